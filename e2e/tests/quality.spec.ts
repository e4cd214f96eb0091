// Point 6 of issue 5, checked on every page of the app: accessible (axe-core's WCAG 2 A/AA
// rules, colour contrast included, in the light and the dark theme; labels; focus order and
// keyboard use), responsive down to a phone (no horizontal scrolling at 375 px), assets
// embedded under /assets/ with immutable cache headers, and no request to another origin.
import AxeBuilder from '@axe-core/playwright';
import type { Locator, Page } from '@playwright/test';
import {
  OUTLOOK_PROBLEM,
  blurTextFields,
  currentStep,
  expect,
  newPerson,
  sidebar,
  signUp,
  startSession,
  test,
  watchDialogs,
} from './fixtures';

// The tests are independent (each signs up its own engineer).
test.describe.configure({ mode: 'parallel' });

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];
const PHONE = { width: 375, height: 740 };

/** Called on each page (or page state) the tour reaches. */
type Visit = (name: string) => Promise<void>;

/**
 * Walks every page of the app with a new engineer, calling `visit` on each: the signed-out
 * pages, the intake, a session at a question and at an action step, both dialogs opened, the
 * documentation with its rating form, the resolved session, the history, the library, a flow
 * and the 404 page.
 */
async function tour(page: Page, visit: Visit): Promise<void> {
  await page.goto('/');
  await visit('home');
  await page.goto('/login');
  await visit('login');
  await page.goto('/signup');
  await visit('signup');
  // Sign-up refused: the errors written next to their fields.
  const me = newPerson('Quality');
  await page.getByLabel('Full name').fill(me.fullName);
  await page.getByLabel('Company').fill(me.company);
  await page.getByLabel('Email').fill(me.email);
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expect(page.getByLabel('Password')).toHaveAttribute('aria-invalid', 'true');
  await visit('signup-errors');
  await signUp(page, me);
  await visit('intake');

  const id = await startSession(page, OUTLOOK_PROBLEM);
  const step = currentStep(page);
  await expect(step.getByRole('heading')).toContainText('Is it one user or several?');
  await page.waitForLoadState('load');
  await visit('session-question');
  await step.getByRole('button', { name: 'Several users', exact: true }).click();
  await expect(step.getByRole('heading')).toContainText('Service health');
  await page.waitForLoadState('load');
  await visit('session-action');

  const aside = sidebar(page);
  await aside.getByRole('button', { name: 'Resolve', exact: true }).click();
  await expect(page.getByLabel('Resolution summary', { exact: true })).toBeFocused();
  await visit('resolve-dialog');
  await page.keyboard.press('Escape');
  await expect(page.getByLabel('Resolution summary', { exact: true })).toBeHidden();
  await aside.getByRole('button', { name: 'Escalate', exact: true }).click();
  await expect(page.getByLabel('Reason', { exact: true })).toBeFocused();
  await visit('escalate-dialog');
  await page.keyboard.press('Escape');
  await expect(page.getByLabel('Reason', { exact: true })).toBeHidden();

  // The same dialogs as the server renders them open (without script, or after an error).
  await page.goto(`/pilot/${id}?dialog=escalate`);
  await expect(page.getByLabel('Reason', { exact: true })).toBeVisible();
  await visit('escalate-dialog-served');
  await page.goto(`/pilot/${id}`);
  const flowHref = await aside.locator('a[href^="/flows/"]').getAttribute('href');
  await aside.getByRole('button', { name: 'Resolve', exact: true }).click();
  await page.getByRole('button', { name: 'Confirm resolve', exact: true }).click();
  const summary = page.getByLabel('Resolution summary', { exact: true });
  await expect(summary).toHaveAttribute('aria-invalid', 'true');
  await visit('resolve-dialog-error');

  await summary.fill('A service incident caused the prompts; they stopped once it was fixed.');
  await page.getByRole('button', { name: 'Confirm resolve', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/pilot/${id}/documentation$`));
  await expect(page.getByRole('button', { name: 'Submit rating', exact: true })).toBeVisible();
  await visit('documentation');

  await page.goto(`/pilot/${id}`);
  await visit('session-resolved');
  await page.goto('/sessions');
  await visit('sessions');
  await page.goto('/flows');
  await visit('flows');
  await page.goto(flowHref!);
  await visit('flow');
  const res = await page.goto('/no-such-page');
  expect(res?.status()).toBe(404);
  await visit('not-found');
}

/**
 * axe-core's WCAG 2 A/AA findings on the page as it is now, one readable entry each: every
 * violation, and every "incomplete" (needs review) result too, since axe reports some real
 * problems only that way (a prohibited ARIA attribute, for one). The one exception is the
 * contrast of text made only of symbols (the outline's aria-hidden "→"), which axe cannot
 * measure.
 */
async function axeFindings(page: Page, label: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  const describe = (kind: string, v: (typeof results.violations)[number]) =>
    `${label}: ${kind} ${v.id} (${v.impact ?? 'n/a'}): ${v.help}\n` +
    v.nodes
      .map((n) => `    ${n.target.join(' ')}\n      ${(n.failureSummary ?? n.any.map((c) => c.message).join('; ')).replace(/\n/g, '\n      ')}`)
      .join('\n');
  const symbolsOnly = (n: (typeof results.incomplete)[number]['nodes'][number]) =>
    n.any.some((check) => check.id === 'color-contrast' && (check.data as { messageKey?: string } | null)?.messageKey === 'nonBmp');
  const review = results.incomplete
    .map((v) => ({ ...v, nodes: v.nodes.filter((n) => !symbolsOnly(n)) }))
    .filter((v) => v.nodes.length > 0);
  return [...results.violations.map((v) => describe('violation', v)), ...review.map((v) => describe('needs review', v))];
}

/** Whether the focused element shows a focus indicator (an outline or a box shadow). */
async function focusShown(page: Page): Promise<{ element: string; shown: boolean }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el) return { element: 'none', shown: false };
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none' && style.boxShadow !== '';
    const element = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    return { element, shown: outline || shadow };
  });
}

async function expectFocusShown(page: Page): Promise<void> {
  const focus = await focusShown(page);
  expect(focus.shown, `no visible focus indicator on ${focus.element}`).toBe(true);
}

/** Presses Tab until the element has the focus (at most 40 times). */
async function tabTo(page: Page, target: Locator): Promise<void> {
  for (let i = 0; i < 40 && !(await target.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(target).toBeFocused();
}

/** A short description of the focused element, for comparing the tab order. */
async function focused(page: Page): Promise<string> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return 'body';
    if (el.id) return `#${el.id}`;
    const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').replace(/\s+/g, ' ').trim();
    return `${el.tagName.toLowerCase()}:${name}`;
  });
}

test('every page passes axe in the light and the dark theme, with embedded, immutable assets only', async ({ page, baseURL }) => {
  // 17 pages, each analysed twice: about 20 s alone, more beside the other tests.
  test.setTimeout(120_000);
  const origin = new URL(baseURL!).origin;
  const foreign: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (/^(data|blob|about):/.test(url)) return;
    if (new URL(url).origin !== origin) foreign.push(url);
  });

  const findings: string[] = [];
  const sameInBothThemes: string[] = [];
  const assetProblems: string[] = [];
  const cacheControl = new Map<string, string>();
  const visited: string[] = [];

  await tour(page, async (name) => {
    visited.push(name);
    // Assets: stylesheet, script and icons, all same-origin under /assets/, immutable.
    const urls = await page.evaluate(() => {
      const found: { kind: string; url: string }[] = [];
      document.querySelectorAll<HTMLLinkElement>('link[rel~="stylesheet"], link[rel~="icon"]').forEach((l) =>
        found.push({ kind: l.rel, url: l.href }),
      );
      document.querySelectorAll<HTMLScriptElement>('script').forEach((s) => found.push({ kind: 'script', url: s.src || '(inline)' }));
      document.querySelectorAll<HTMLImageElement>('img').forEach((i) => found.push({ kind: 'img', url: i.src }));
      return found;
    });
    for (const kind of ['stylesheet', 'icon', 'script']) {
      if (!urls.some((u) => u.kind === kind)) assetProblems.push(`${name}: no ${kind}`);
    }
    for (const { kind, url } of urls) {
      if (url === '(inline)') {
        assetProblems.push(`${name}: an inline script`);
        continue;
      }
      const parsed = new URL(url);
      if (parsed.origin !== origin || !parsed.pathname.startsWith('/assets/')) {
        assetProblems.push(`${name}: ${kind} ${url} is not under ${origin}/assets/`);
        continue;
      }
      if (!cacheControl.has(url)) {
        const res = await page.request.get(url);
        cacheControl.set(url, res.status() === 200 ? (res.headers()['cache-control'] ?? '') : `status ${res.status()}`);
      }
      const cc = cacheControl.get(url)!;
      if (!/\bimmutable\b/.test(cc)) assetProblems.push(`${name}: ${url} has Cache-Control "${cc}"`);
    }

    // axe-core, light then dark; the dark scheme must really change the colours.
    const colours = () => page.evaluate(() => `${getComputedStyle(document.body).backgroundColor} ${getComputedStyle(document.body).color}`);
    await page.emulateMedia({ colorScheme: 'light' });
    const light = await colours();
    findings.push(...(await axeFindings(page, `${name} (light)`)));
    await page.emulateMedia({ colorScheme: 'dark' });
    if ((await colours()) === light) sameInBothThemes.push(name);
    findings.push(...(await axeFindings(page, `${name} (dark)`)));
    await page.emulateMedia({ colorScheme: 'light' });
  });

  expect(visited).toHaveLength(17);
  expect(assetProblems, assetProblems.join('\n')).toEqual([]);
  expect(foreign, `requests to other origins:\n${foreign.join('\n')}`).toEqual([]);
  expect(sameInBothThemes, 'pages whose colours ignore prefers-color-scheme: dark').toEqual([]);
  expect(findings, `axe found WCAG 2 A/AA problems:\n${findings.join('\n')}`).toEqual([]);
});

test('every page fits a phone in the light and the dark theme', async ({ browser, baseURL, shots }) => {
  for (const colorScheme of ['light', 'dark'] as const) {
    const context = await browser.newContext({ baseURL, viewport: PHONE, colorScheme, hasTouch: true, isMobile: true });
    const page = await context.newPage();
    watchDialogs(page);
    const overflowing: string[] = [];
    await tour(page, async (name) => {
      // A mobile browser widens its layout viewport to fit what overflows, so the page is held
      // to the phone's width, not to innerWidth.
      const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
      if (scroll > PHONE.width) overflowing.push(`${name}: scrollWidth ${scroll} > the phone's ${PHONE.width}`);
      if (name === 'session-question' || name === 'session-action') {
        const step = currentStep(page);
        const controls = [
          ...(await step.locator('button[name="selected_option"]').all()),
          step.getByLabel('Your answer'),
        ];
        expect(controls.length).toBeGreaterThan(1);
        for (const control of controls) {
          await expect(control).toBeVisible();
          const box = (await control.boundingBox())!;
          expect(box.x, `${name}: a control starts left of the screen`).toBeGreaterThanOrEqual(0);
          expect(box.x + box.width, `${name}: a control ends right of the screen`).toBeLessThanOrEqual(PHONE.width);
        }
      }
      if (name === 'session-question' || name === 'documentation') {
        await shots.take(page, `phone-${name}-${colorScheme}`);
      }
    });
    await context.close();
    expect(overflowing, `horizontal scrolling on a phone (${colorScheme}):\n${overflowing.join('\n')}`).toEqual([]);
  }
});

test('a session can be worked with the keyboard alone, focus always visible', async ({ page }) => {
  await signUp(page, newPerson('Keyboard'));
  const id = await startSession(page, OUTLOOK_PROBLEM);
  await page.goto(`/pilot/${id}`);
  await page.waitForLoadState('load');
  const step = currentStep(page);
  await expect(step.getByRole('heading')).toContainText('Is it one user or several?');

  // The focus order of the whole page: skip link first, then the header, the step (options,
  // "Your answer", "Send"), then the sidebar's actions.
  const order: string[] = [];
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const now = await focused(page);
    if (order.includes(now) || now === 'body') break;
    order.push(now);
    await expectFocusShown(page);
  }
  const at = (what: string) => {
    const index = order.findIndex((entry) => entry === what || entry.startsWith(what));
    expect(index, `${what} in the tab order ${order.join(' → ')}`).toBeGreaterThanOrEqual(0);
    return index;
  };
  expect(order[0], order.join(' → ')).toBe('a:Skip to main content');
  const sequence = [
    at('a:Skip to main content'),
    at('a:FlowPilot'),
    at('a:Pilot'),
    at('button:Sign out'),
    at('button:1 One user'),
    at('button:2 Several users'),
    at('#free_text_input'),
    at('button:Send'),
    at('button:Resolve'),
    at('button:Escalate'),
    at('button:Pause'),
  ];
  expect(sequence, order.join(' → ')).toEqual([...sequence].sort((a, b) => a - b));

  // The skip link comes first and moves focus to the main content.
  await page.goto(`/pilot/${id}`);
  await page.waitForLoadState('load');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Skip to main content' })).toBeFocused();
  await expect(page.getByRole('link', { name: 'Skip to main content' })).toBeInViewport();
  await expectFocusShown(page);
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();

  // The next Tab reaches the first option; Tab and Shift+Tab move between options; Space
  // answers with the focused one.
  await page.keyboard.press('Tab');
  await expect(step.getByRole('button', { name: 'One user', exact: true })).toBeFocused();
  await expectFocusShown(page);
  await page.keyboard.press('Tab');
  await expect(step.getByRole('button', { name: 'Several users', exact: true })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(step.getByRole('button', { name: 'One user', exact: true })).toBeFocused();
  await page.keyboard.press('Tab');
  await expectFocusShown(page);
  await page.keyboard.press('Space');
  await expect(step.getByRole('heading')).toContainText('Service health');

  // A number key picks an option.
  await page.waitForLoadState('load');
  await blurTextFields(page);
  await page.keyboard.press('1');
  await expect(step.getByRole('heading')).toContainText('What did you find?');

  // The Resolve dialog: opened with the keyboard, focus on its first field, closed with Escape,
  // focus back on the button that opened it.
  await page.waitForLoadState('load');
  const resolve = sidebar(page).getByRole('button', { name: 'Resolve', exact: true });
  await tabTo(page, resolve);
  await expectFocusShown(page);
  await page.keyboard.press('Enter');
  const summary = page.getByLabel('Resolution summary', { exact: true });
  await expect(summary).toBeVisible();
  await expect(summary).toBeFocused();
  await expectFocusShown(page);
  expect(await page.locator('#resolve-dialog').evaluate((el) => el.matches(':modal'))).toBe(true);
  await page.keyboard.press('Escape');
  await expect(summary).toBeHidden();
  await expect(resolve).toBeFocused();
  await expectFocusShown(page);

  // Confirming without a summary comes back with the error in the dialog, and the focus on
  // the field in error.
  await page.keyboard.press('Enter');
  await expect(summary).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Confirm resolve', exact: true })).toBeFocused();
  await expectFocusShown(page);
  await page.keyboard.press('Enter');
  await expect(summary).toHaveAttribute('aria-invalid', 'true');
  await expect(summary).toHaveAccessibleDescription(/Describe what fixed the problem/);
  await page.waitForLoadState('load');
  await expect(summary).toBeFocused();
  await expectFocusShown(page);

  // "Your answer" reached with Tab, typed into, sent with the Send button by keyboard.
  await page.goto(`/pilot/${id}`);
  await page.waitForLoadState('load');
  await expect(step.getByRole('heading')).toContainText('What did you find?');
  const answer = step.getByLabel('Your answer');
  await tabTo(page, answer);
  await expectFocusShown(page);
  await page.keyboard.type('Microsoft service incident');
  await page.keyboard.press('Tab');
  await expect(step.getByRole('button', { name: 'Send', exact: true })).toBeFocused();
  await expectFocusShown(page);
  await page.keyboard.press('Enter');
  await expect(step.getByRole('button', { name: 'Accept & resolve', exact: true })).toBeVisible();
  await expect(page.locator('main').getByText('Microsoft service incident').first()).toBeVisible();
});

test("an admin's pages fit a phone too", async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, viewport: PHONE, hasTouch: true, isMobile: true });
  const page = await context.newPage();
  await signUp(page, newPerson('Phone admin'));
  const overflowing: string[] = [];
  for (const url of ['/analytics', '/analytics/gaps', '/review', '/settings/psa', '/settings/notifications']) {
    await page.goto(url);
    const scroll = await page.evaluate(() => document.documentElement.scrollWidth);
    if (scroll > PHONE.width) overflowing.push(`${url}: scrollWidth ${scroll} > the phone's ${PHONE.width}`);
  }
  expect(overflowing).toEqual([]);
  await context.close();
});
