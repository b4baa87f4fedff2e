// The status page of a running demo, loaded in Debian's headless Chromium:
// waits for an alert to fire, then checks that the page lists it and that
// its series' chart has the observed line, the band, the anomalous intervals
// and the alert period marked, that the page logs no
// console error and fetches nothing that fails, and that a phone-wide window
// needs no sideways scrolling. Saves screenshots into OUTDIR.
// Usage: node status-page.js http://127.0.0.1:PORT OUTDIR
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const base = process.argv[2];
const outdir = process.argv[3];
const fail = (msg) => { console.error('FAIL: ' + msg); process.exit(1); };

// The first alert that fires. The demo's incidents last a second or two of
// wall time, so by the time the page loads it may have resolved again.
async function firedAlert() {
  const deadline = Date.now() + 60000;
  while (Date.now() < deadline) {
    try {
      const r = await fetch(base + '/api/v1/alerts');
      const j = await r.json();
      if (j.alerts.length > 0) return j.alerts[0];
      if (j.resolved.length > 0) return j.resolved[0];
    } catch (e) { /* not listening yet */ }
    await new Promise((res) => setTimeout(res, 100));
  }
  fail('no alert fired within 60 s');
}

(async () => {
  const alert = await firedAlert();
  console.log(`fired: ${alert.kpi} ${JSON.stringify(alert.labels)} key ${alert.key}`);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  const problems = [];
  const watch = (page) => {
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => problems.push('request failed: ' + r.url()));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()} ${r.url()}`); });
    page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push('off-site request: ' + r.url()); });
  };

  fs.mkdirSync(outdir, { recursive: true });
  const laptop = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  watch(laptop);
  const resp = await laptop.goto(base + '/', { waitUntil: 'load' });
  if (resp.status() !== 200) fail('GET / answered ' + resp.status());
  // Listed as an active incident, or (resolved since) among the recently resolved.
  const listed = await laptop.evaluate((a) => document.querySelector('#incidents').textContent.includes(a.kpi) ||
    document.querySelector('#resolved').innerHTML.includes('/series/' + a.key), alert);
  if (!listed) fail('the alert is neither an active incident nor recently resolved');
  await laptop.screenshot({ path: path.join(outdir, 'status-page.png') });
  // The overview charts the top series of each KPI; the KPI's own page all of them.
  let chart = await laptop.$(`svg.chart[data-key="${alert.key}"]`);
  if (!chart) {
    await laptop.goto(base + '/?kpi=' + encodeURIComponent(alert.kpi), { waitUntil: 'load' });
    chart = await laptop.$(`svg.chart[data-key="${alert.key}"]`);
  }
  if (!chart) fail('no chart for the series that fired, ' + alert.key);
  const parts = await chart.evaluate((svg) => ({
    observed: svg.querySelectorAll('path.observed').length,
    observedLength: svg.querySelector('path.observed') ? svg.querySelector('path.observed').getTotalLength() : 0,
    band: svg.querySelectorAll('path.band').length,
    alert: svg.querySelectorAll('rect.alert-period').length,
    anomalies: svg.querySelectorAll('circle.anomaly').length,
    width: svg.getBoundingClientRect().width,
  }));
  console.log('chart of the series that fired: ' + JSON.stringify(parts));
  if (parts.observed < 1 || parts.observedLength < 50) fail('the chart has no observed line');
  if (parts.band < 1) fail('the chart has no expected band');
  if (parts.alert < 1) fail('the chart marks no alert period');
  if (parts.anomalies < 1) fail('the chart marks no anomalous interval');
  const scripts = await laptop.$$eval('script', (s) => s.length);
  if (scripts !== 0) fail('the page carries a script');
  await laptop.screenshot({ path: path.join(outdir, 'status-page-full.png'), fullPage: true });
  fs.writeFileSync(path.join(outdir, 'status-page.html'), await laptop.content());

  // The series' own page, then both on a phone.
  await laptop.goto(base + '/series/' + alert.key, { waitUntil: 'load' });
  if (!(await laptop.$('svg.chart path.observed'))) fail('the series page has no chart');
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true });
  watch(phone);
  for (const url of ['/', '/series/' + alert.key]) {
    await phone.goto(base + url, { waitUntil: 'load' });
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (overflow > 1) fail(`${url} is ${overflow}px wider than a phone`);
  }
  await phone.goto(base + '/', { waitUntil: 'load' });
  await phone.screenshot({ path: path.join(outdir, 'status-page-phone.png') });
  await browser.close();
  if (problems.length) fail('the browser reported:\n  ' + problems.join('\n  '));
  console.log('PASS: status page checked; screenshots in ' + outdir);
})().catch((e) => fail(e.stack || String(e)));
