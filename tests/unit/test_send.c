/* `kpiwatch send` refuses a payload whose format is not the one the input
 * reads: JSON (an object or a batch array) against line protocol. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdbool.h>
#include <string.h>

#include "../../agent/send.h"

struct format_case {
    char msg[64];
    bool line_protocol; /* the format the input reads */
    bool ok;
};

ParameterizedTestParameters(send, payload_matches_the_input_format)
{
    static struct format_case cases[] = {
        {"{\"metric\":\"complaints\",\"value\":3}", false, true},
        {"  [{\"metric\":\"complaints\",\"value\":3}]", false, true},
        {"{not json", false, true}, /* the agent judges what is JSON-shaped */
        {"complaints,journey=checkout value=3 1700000000", false, false},
        {"", false, false},
        {"complaints,journey=checkout value=3 1700000000", true, true},
        {"{\"metric\":\"complaints\",\"value\":3}", true, false},
        {"\t[1]", true, false},
    };
    return cr_make_param_array(struct format_case, cases, sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct format_case *c, send, payload_matches_the_input_format)
{
    char err[256] = "";
    int rc = kw_send_check_format(c->msg, strlen(c->msg), c->line_protocol, "message 1", err, sizeof err);
    cr_assert_eq(rc, c->ok ? 0 : -1, "\"%s\" (line protocol input: %d): %s", c->msg, c->line_protocol, err);
    if (!c->ok)
        cr_assert(strncmp(err, "message 1 is ", 13) == 0 &&
                      strstr(err, c->line_protocol ? "reads InfluxDB line protocol" : "reads JSON"),
                  "%s", err);
}
