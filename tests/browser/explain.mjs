// The page of `netdx explain` in Debian's chromium, headless, driven by
// playwright-core (make check-browser).
//   node tests/browser/explain.mjs BUILD_DIR
// Builds an explanation from scratch (phantoms, a tiny model trained for
// one epoch, its dissection, a survey with three simulated readers and its
// export) or, with NETDX_EXPLAIN_DIR=DIR, opens an existing one (e.g. the
// demo's), then checks the page offline from file://: the images load
// under its CSP, the heat map toggles, a unit's map shows, the summary is
// marked as a research aid.  Screenshot (1280x800):
// BUILD/screenshots/explain.png.  Prints "browser: N passed, M failed".
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BUILD = path.resolve(process.argv[2] || 'build');
const NETDX = path.join(BUILD, 'netdx');
const SHOTS = path.join(BUILD, 'screenshots');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ndx-explain-browser-'));
let passed = 0, failed = 0;
let context = null;

function check(name, ok, detail) {
  if (ok) { passed++; console.log('ok   ' + name); return; }
  failed++;
  console.log('FAIL ' + name + (detail === undefined ? '' : ': ' + detail));
}

function netdx(...args) {
  execFileSync(NETDX, args, { stdio: ['ignore', 'ignore', 'inherit'] });
}

// An explanation of a test-split mammogram with simulated readers' labels.
function makeExplanation() {
  if (process.env.NETDX_EXPLAIN_DIR) return path.resolve(process.env.NETDX_EXPLAIN_DIR);
  const data = path.join(work, 'data'), model = path.join(work, 'model.safetensors');
  const diss = path.join(work, 'dissection'), db = path.join(work, 'survey.sqlite');
  const answers = path.join(work, 'answers.jsonl'), out = path.join(work, 'explain');
  netdx('synth', '--out', data, '--patients', '6', '--seed', '4', '--pixel-um', '400');
  netdx('patches', '--data', data);
  netdx('train', '--arch', 'tiny', '--data', data, '--input-size', '32', '--epochs', '1',
    '--batch', '16', '--lr', '0.02', '--seed', '1', '--out', model);
  netdx('dissect', '--model', model, '--data', data, '--split', 'val', '--layer', 'features.17',
    '--topk', '8', '--out', diss);
  netdx('survey', 'init', '--db', db, '--dissection', diss, '--data', data, '--model', model,
    '--units', '128', '--seed', '1');
  netdx('survey', 'simulate', '--db', db, '--readers', '3', '--seed', '1');
  netdx('survey', 'export', '--db', db, '--out', answers);
  const csv = fs.readFileSync(path.join(data, 'patches.csv'), 'utf8').split('\n');
  const test = csv.find((l) => l.split(',')[8] === 'test') || csv[1];
  const image = path.join(data, test.split(',')[2]);
  netdx('explain', '--model', model, '--image', image, '--labels', answers, '--dissection', diss,
    '--out', out);
  return out;
}

async function run() {
  const dir = makeExplanation();
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [], requests = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith('file://')) requests.push(r.url()); });
  await page.goto('file://' + path.join(dir, 'index.html'));
  await page.waitForLoadState('load');
  const loaded = await page.evaluate(() => Array.from(document.images)
    .filter((i) => !i.classList.contains('hidden')).every((i) => i.complete && i.naturalWidth > 0));
  check('every visible image loads (CSP allows them)', loaded);
  check('the notice says research aid, not a diagnosis',
    (await page.textContent('.notice')).includes('Research aid, not a diagnosis'));
  check('the summary is there', (await page.textContent('p.summary')).startsWith('Research aid'));
  check('the heat map is shown first', await page.isVisible('#overlay'));
  const units = await page.locator('ol.units li').count();
  check('the top units are listed', units >= 1, units);
  await page.click('button[data-map]');
  check('a unit\'s map shows on click', await page.isVisible('#unitmap'));
  const mapOk = await page.evaluate(() => { const i = document.getElementById('unitmap'); return i.complete && i.naturalWidth > 0; });
  check('and loads', mapOk);
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, 'explain.png') });
  await page.click('button[data-map]');
  check('a second click hides it', !(await page.isVisible('#unitmap')));
  await page.check('input[name=map][value=none]');
  check('the heat map toggles off', !(await page.isVisible('#overlay')));
  check('no script errors and no CSP violations', problems.length === 0, problems.join(' | '));
  check('nothing is fetched from the network', requests.length === 0, requests.join(' '));
}

try {
  await run();
} catch (e) {
  check('the walk-through finished', false, e.stack || e);
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(work, { recursive: true, force: true });
}
console.log('browser: ' + passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
