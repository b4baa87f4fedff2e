# Reads a test log; prints the sanitizer reports that count. LeakSanitizer
# blocks whose every frame past the allocator is inside libcriterion are
# Criterion's own runner keeping memory until exit, not ours; anything else
# (a leak with one frame of ours, an ASan or UBSan error) is printed.
function flush_block() {
    if (in_block && ours)
        printf "%s", block
    in_block = 0; block = ""; ours = 0
}
/(Direct|Indirect) leak of/ { flush_block(); in_block = 1; block = $0 "\n"; next }
in_block && /^ *#[0-9]+ / {
    block = block $0 "\n"
    if ($0 !~ /^ *#0 / && $0 !~ /libcriterion/ && $0 !~ /<unknown module>/)
        ours = 1
    next
}
in_block { flush_block() }
/ERROR: AddressSanitizer|runtime error:|ERROR: UndefinedBehaviorSanitizer|ERROR: ThreadSanitizer/ { print }
END { flush_block() }
