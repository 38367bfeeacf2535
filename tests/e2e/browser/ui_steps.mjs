// Drives Debian's headless chromium through Airflow's UI with playwright-core.
// Input (stdin, JSON): {baseUrl, username, password, screenshotDir, scenarios: [{name, steps: [...]}]}
// Steps: {goto: path} | {click: text} | {clickRole: [role, name]} | {fill: [label, value]}
//        | {chooseOption: [comboboxLabel, optionText]} | {waitText: text, contains?: bool (default: the whole text of an element)} | {waitLabel: text} | {linkHref: name} | {sleep: ms} | {screenshot: file}
// Output (stdout, JSON): [{name, ok, error, texts: {text: visible?}, screenshots: [...]}]
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const { chromium } = require(process.env.PLAYWRIGHT_CORE || 'playwright-core');

const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const TIMEOUT = 30000;
const userDataDir = mkdtempSync(path.join(tmpdir(), 'hisham-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1400, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const results = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  // Log in once through the simple auth manager's form.
  await page.goto(input.baseUrl + '/', { waitUntil: 'networkidle' });
  if (input.password) {
    await page.getByLabel('Username').waitFor();
    await page.getByLabel('Username').fill(input.username);
    await page.getByLabel('Password').fill(input.password);
    await page.getByRole('button', { name: /sign in|log ?in/i }).click();
    await page.waitForURL((url) => !url.pathname.includes('/auth/login'), { timeout: TIMEOUT });
    await page.waitForLoadState('networkidle');
  }
  for (const scenario of input.scenarios) {
    const result = { name: scenario.name, ok: true, error: null, texts: {}, screenshots: [] };
    try {
      for (const step of scenario.steps) {
        if (step.goto) {
          await page.goto(input.baseUrl + step.goto, { waitUntil: 'networkidle' });
        } else if (step.click) {
          await page.getByText(step.click, { exact: true }).first().click();
        } else if (step.clickRole) {
          await page.getByRole(step.clickRole[0], { name: step.clickRole[1] }).first().click();
        } else if (step.fill) {
          await page.getByLabel(step.fill[0]).fill(step.fill[1]);
        } else if (step.chooseOption) {
          // A react-select: type into its combobox input, then pick the option.
          const [label, option] = step.chooseOption;
          await page.getByRole('combobox', { name: label }).first().focus();
          await page.keyboard.type(option);
          await page.getByRole('option', { name: option, exact: true }).first().click();
        } else if (step.waitText) {
          const loc = page.getByText(step.waitText, { exact: !step.contains }).first();
          try {
            await loc.waitFor({ state: 'visible', timeout: step.timeout || TIMEOUT });
            result.texts[step.waitText] = true;
          } catch (e) {
            result.texts[step.waitText] = false;
          }
        } else if (step.waitLabel) {
          // A form label whose whole text is this (a required field's label ends with "*").
          const escaped = step.waitLabel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          const loc = page.locator('label').filter({ hasText: new RegExp(`^\\s*${escaped}\\s*\\*?\\s*$`) }).first();
          try {
            await loc.waitFor({ state: 'visible', timeout: step.timeout || TIMEOUT });
            result.texts[step.waitLabel] = true;
          } catch (e) {
            result.texts[step.waitLabel] = false;
          }
        } else if (step.linkHref) {
          // The address of a link (or a button wrapped in one) with this name, '' if none shows.
          const link = page.getByRole('link', { name: step.linkHref, exact: true }).first();
          try {
            await link.waitFor({ state: 'visible', timeout: step.timeout || TIMEOUT });
            result.texts[step.linkHref] = await link.getAttribute('href');
          } catch (e) {
            result.texts[step.linkHref] = '';
          }
        } else if (step.sleep) {
          await page.waitForTimeout(step.sleep);
        } else if (step.screenshot) {
          const file = path.join(input.screenshotDir, step.screenshot);
          await page.screenshot({ path: file, fullPage: !!step.fullPage });
          result.screenshots.push(file);
        }
      }
    } catch (e) {
      result.ok = false;
      result.error = String(e && e.stack || e);
      const file = path.join(input.screenshotDir, `${scenario.name}-error.png`);
      await page.screenshot({ path: file }).catch(() => {});
      result.screenshots.push(file);
    }
    results.push(result);
  }
} finally {
  await context.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(results));
