// End-to-end test of the survey pages in Debian's chromium, headless,
// driven by playwright-core (make check-browser).
//   node tests/browser/survey.mjs BUILD_DIR
// Makes a survey (BUILD/tests/survey_fixture; or, with
// NETDX_SURVEY_DISSECTION=DIR and NETDX_SURVEY_DATA=DIR, `netdx survey init`
// over a real dissection), runs `netdx survey serve` on a free port, and
// walks a reader through it: link, home, overview, unit page, zoom,
// overlays, an answer with lexicon picks and free text, reload, a second
// revision, keyboard shortcuts, a stored <script> shown as text, and the
// admin's completion page.  Screenshots (1280x800) go to BUILD/screenshots/.
// Prints "browser: N passed, M failed"; exit status 1 on any failure.
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BUILD = path.resolve(process.argv[2] || 'build');
const NETDX = path.join(BUILD, 'netdx');
const SHOTS = path.join(BUILD, 'screenshots');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ndx-browser-'));
let passed = 0, failed = 0;
let server = null, context = null;

function check(name, ok, detail) {
  if (ok) { passed++; console.log('ok   ' + name); return; }
  failed++;
  console.log('FAIL ' + name + (detail === undefined ? '' : ': ' + detail));
}

// A survey and three readers' tokens (A, B, admin).
function makeSurvey() {
  const dissection = process.env.NETDX_SURVEY_DISSECTION;
  if (!dissection) {
    const out = execFileSync(path.join(BUILD, 'tests', 'survey_fixture'), [work, '6']);
    return JSON.parse(out.toString());
  }
  const db = path.join(work, 'survey.sqlite');
  const init = ['survey', 'init', '--db', db, '--dissection', dissection, '--units', '12', '--seed', '1'];
  if (process.env.NETDX_SURVEY_DATA) init.push('--data', process.env.NETDX_SURVEY_DATA);
  execFileSync(NETDX, init, { stdio: ['ignore', 'ignore', 'inherit'] });
  const tokens = [['reader-a', 'radiologist'], ['reader-b', 'physicist'], ['admin-c', 'other']].map(([n, r], i) => {
    const args = ['survey', 'reader', 'add', '--db', db, n, '--role', r].concat(i === 2 ? ['--admin'] : []);
    const m = /token=([0-9a-f]{64})/.exec(execFileSync(NETDX, args).toString());
    return m[1];
  });
  return { db, tokens };
}

function serve(db) {
  return new Promise((resolve, reject) => {
    server = spawn(NETDX, ['survey', 'serve', '--db', db, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    server.stdout.on('data', (d) => {
      out += d;
      const m = /(http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error('netdx survey serve exited with ' + code + ': ' + out)));
  });
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png') });
}

async function answerUnit(page) {
  await page.check('input[name="recognizable"][value="yes"]');
  await page.check('input[name="association"][value="malignant"]');
  await page.check('input[name="multiplicity"][value="multiple"]');
  const ph1 = page.locator('fieldset.phen').nth(0);
  await ph1.locator('select.cat').selectOption({ label: 'Mass margin' });
  await ph1.locator('select.desc').selectOption('mass_margin.spiculated');
  await ph1.locator('select.cat').selectOption({ label: 'Finding type (top-level mammographic findings)' });
  await ph1.locator('select.desc').selectOption('finding.mass');
  await ph1.locator('textarea.text').fill('<script>window.__pwned=1</script> spiculated mass');
  await ph1.locator('select.assoc').selectOption('malignant');
  await ph1.locator('.chips').click();
  await page.keyboard.press('4');
  await page.click('#add-ph');
  const ph2 = page.locator('fieldset.phen').nth(1);
  await ph2.locator('select.nonlex').selectOption('anat.pectoral_muscle');
  await ph2.locator('textarea.text').fill('muscle edge');
  await ph2.locator('select.assoc').selectOption('none');
  await ph2.locator('.chips').click();
  await page.keyboard.press('2');
  await page.fill('#comment', 'first look');
  // autosave: wait for the last change to be stored
  await page.waitForFunction(async (u) => {
    const a = (await (await fetch('/api/answer?unit=' + u)).json()).answer;
    return a && a.comment === 'first look' && a.phenomena.length === 2 && a.phenomena[1].confidence === 2;
  }, Number(await page.getAttribute('#answer', 'data-unit')), { polling: 300, timeout: 15000 });
  await page.waitForFunction(() => /Saved \(revision \d+\)/.test(document.getElementById('status').textContent));
}

async function readAnswer(page, unit) {
  return page.evaluate(async (u) => (await fetch('/api/answer?unit=' + u)).json(), unit);
}

async function run() {
  const survey = makeSurvey();
  const base = await serve(survey.db);
  const profile = fs.mkdtempSync(path.join(work, 'profile-'));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] || await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });

  // the link, home
  await page.goto(base + '/login?token=' + survey.tokens[0]);
  await page.waitForURL(base + '/');
  check('the link signs in and lands on home', (await page.textContent('h1')).includes('reader-a'));
  const cookies = await context.cookies();
  const c = cookies.find((x) => x.name === 'ndx_session');
  check('the session cookie is HttpOnly and SameSite=Strict', c && c.httpOnly && c.sameSite === 'Strict');
  check('home shows a progress bar per set', await page.locator('table.sets progress').count() >= 1);
  check('home has a resume link', await page.locator('#resume').count() === 1);
  await shot(page, 'home');

  // overview
  await page.click('table.sets a[href^="/set/"]');
  await page.waitForSelector('table.overview');
  const rows = await page.locator('tr.unit-row').count();
  check('the overview has a row per unit', rows >= 2, rows);
  check('each row shows 8 top patches', await page.locator('tr.unit-row').first().locator('figure.thumb').count() === 8);
  check('the overview explains the highlight', (await page.textContent('.instructions')).includes('not necessarily'));
  check('nothing is recorded yet', await page.locator('.recorded').count() === 0);
  await shot(page, 'overview');

  // unit page: a row click opens it
  await page.locator('tr.unit-row').first().locator('td.thumbs').click();
  await page.waitForSelector('fieldset.phen');
  const unit = Number(await page.getAttribute('#answer', 'data-unit'));
  const patches = page.locator('.grid button.zoom');
  check('the unit page shows 32 patches', await patches.count() === 32, await patches.count());
  const sizes = await patches.evaluateAll((bs) => bs.map((b) => b.getBoundingClientRect().width));
  check('every patch is at least 192 px on screen', sizes.every((w) => w >= 192), sizes.join(','));
  const rowsOf4 = await patches.evaluateAll((bs) => new Set(bs.slice(0, 4).map((b) => Math.round(b.getBoundingClientRect().top))).size === 1 &&
    Math.round(bs[4].getBoundingClientRect().top) > Math.round(bs[3].getBoundingClientRect().top));
  check('patches are in rows of 4', rowsOf4);

  // zoom on a patch: the mammogram with the box, for any patch
  await patches.nth(5).click();
  await page.waitForFunction(() => document.getElementById('zoom').open && document.getElementById('zoom-m').complete &&
    document.getElementById('zoom-m').naturalWidth > 0);
  const box = await page.locator('#zoom-box').boundingBox();
  const mam = await page.locator('#zoom-m').boundingBox();
  check('zoom shows the mammogram with the patch box inside it', box && mam && box.width > 2 &&
    box.x >= mam.x - 2 && box.x + box.width <= mam.x + mam.width + 2, JSON.stringify([box, mam]));
  check('zoom names the patch and its label', /Patch 6/.test(await page.textContent('#zoom-title')) &&
    /Label/.test(await page.textContent('#zoom-label')));
  await page.click('#zoom-next');
  check('zoom moves to the next patch', /Patch 7/.test(await page.textContent('#zoom-title')));
  await shot(page, 'zoom');
  await page.keyboard.press('Escape');
  check('Esc closes the zoom', !(await page.evaluate(() => document.getElementById('zoom').open)));

  // overlays
  await page.uncheck('#t-hl');
  check('the highlight toggle hides the overlay', !(await page.locator('.grid img.hl').first().isVisible()));
  await page.check('#t-hl');
  await page.check('#t-ol');
  check('the outline toggle shows the lesion outline', await page.locator('.grid img.ol').first().isVisible());
  await page.uncheck('#t-ol');

  // answer: lexicon picks, free text, keyboard confidence
  const chipTitle = async () => page.locator('fieldset.phen').nth(0).locator('.chip').first().getAttribute('title');
  await answerUnit(page);
  check('a lexicon term carries its definition as a tooltip', ((await chipTitle()) || '').length > 20, await chipTitle());
  const unlabelled = await page.evaluate(() => Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map((e) => e.outerHTML.slice(0, 80)));
  check('every form control has a label', unlabelled.length === 0, unlabelled.join(' '));
  await page.evaluate(() => { window.scrollTo(0, 0); document.getElementById('answer').scrollTop = 0; });
  await shot(page, 'unit');
  const first = await readAnswer(page, unit);
  const ph = (first.answer || {}).phenomena || [];
  check('autosave stored the answer', first.revision >= 1 && first.answer.recognizable === 'yes', JSON.stringify(first));
  check('the lexicon picks are stored', ph[0] && ph[0].descriptors.join() === 'mass_margin.spiculated,finding.mass' &&
    ph[1] && ph[1].descriptors.join() === 'anat.pectoral_muscle', JSON.stringify(ph));
  check('keys 1-5 set the focused phenomenon\'s confidence', ph[0] && ph[0].confidence === 4 && ph[1].confidence === 2,
    JSON.stringify(ph.map((p) => p.confidence)));
  check('free text is stored as typed', ph[0] && ph[0].text === '<script>window.__pwned=1</script> spiculated mass');

  // reload: the answer is there
  await page.reload();
  await page.waitForSelector('fieldset.phen .chip');
  check('after a reload Q1-Q3 are filled in', await page.isChecked('input[name="recognizable"][value="yes"]') &&
    await page.isChecked('input[name="association"][value="malignant"]') &&
    await page.isChecked('input[name="multiplicity"][value="multiple"]'));
  check('after a reload the phenomena are filled in', await page.locator('fieldset.phen').count() === 2 &&
    await page.locator('fieldset.phen').nth(0).locator('textarea.text').inputValue() === ph[0].text &&
    await page.locator('fieldset.phen').nth(0).locator('.chip').count() === 2);
  check('stored <script> never ran', await page.evaluate(() => window.__pwned === undefined));

  // explicit save goes back to the overview at that unit
  await page.click('#save');
  await page.waitForURL(new RegExp('/set/\\d+#u' + unit + '$'));
  check('save returns to the overview at the unit', await page.locator('#u' + unit + '.current').count() === 1);
  check('the unit shows [response recorded]', (await page.textContent('#u' + unit)).includes('[response recorded]'));

  // edit: a second revision
  const before = (await readAnswer(page, unit)).revisions;
  await page.click('#u' + unit + ' th a');
  await page.waitForSelector('fieldset.phen .chip');
  await page.check('input[name="recognizable"][value="unsure"]');
  await page.click('#save');
  await page.waitForURL(/\/set\//);
  const after = await readAnswer(page, unit);
  check('an edit adds a revision', after.revisions === before + 1 && after.answer.recognizable === 'unsure',
    before + ' -> ' + after.revisions);
  check('an edit keeps the rest of the answer', after.answer.phenomena.length === 2);

  // keyboard: n, p and the arrows move between units
  await page.goto(base + '/unit/' + unit);
  await page.waitForSelector('fieldset.phen');
  const hasNext = await page.locator('#next').count() === 1;
  await page.locator('h1').click();
  await page.keyboard.press(hasNext ? 'n' : 'p');
  await page.waitForURL((u) => !u.pathname.endsWith('/unit/' + unit));
  const moved = page.url();
  await page.waitForSelector('fieldset.phen');
  await page.locator('h1').click();
  await page.keyboard.press(hasNext ? 'p' : 'n');
  await page.waitForURL(base + '/unit/' + unit);
  check('n / p move to the next and previous unit', moved !== base + '/unit/' + unit);
  await page.waitForSelector('fieldset.phen');
  await page.locator('h1').click();
  await page.keyboard.press(hasNext ? 'ArrowRight' : 'ArrowLeft');
  await page.waitForURL((u) => !u.pathname.endsWith('/unit/' + unit));
  check('arrow keys move between units', page.url() === moved);

  // stored <script> is text on the answers page
  await page.goto(base + '/answers');
  check('a stored <script> shows as text', (await page.locator('.free').allTextContents()).some((t) =>
    t.includes('<script>window.__pwned=1</script>')));
  check('and never runs', await page.evaluate(() => window.__pwned === undefined));

  check('no script errors and no CSP violations', problems.length === 0, problems.join(' | '));

  // another reader sees none of it (a 403 the console reports); the admin sees completion
  await page.goto(base + '/login?token=' + survey.tokens[1]);
  await page.waitForURL(base + '/');
  const other = await page.evaluate(async (u) => (await fetch('/api/answer?unit=' + u + '&reader=1')).status, unit);
  check('reader B cannot read reader A\'s answer', other === 403, other);
  await page.goto(base + '/login?token=' + survey.tokens[2]);
  await page.waitForURL(base + '/');
  await page.goto(base + '/admin');
  const adminRow = page.locator('table.admin tr', { hasText: 'reader-a' });
  check('the admin page shows reader A\'s completion', (await adminRow.locator('td.num').first().textContent()).startsWith('1 /'));
  await shot(page, 'admin');
}

try {
  await run();
} catch (e) {
  check('the walk-through finished', false, e.stack || e);
} finally {
  if (context) await context.close().catch(() => {});
  if (server) server.kill('SIGTERM');
  fs.rmSync(work, { recursive: true, force: true });
}
console.log('browser: ' + passed + ' passed, ' + failed + ' failed');
process.exit(failed ? 1 : 0);
