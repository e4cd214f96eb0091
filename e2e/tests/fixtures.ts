// Shared helpers: unique users, sign-up and sign-in through the pages, the intake, the JSON
// API for what has no page (creating a colleague), and full-page screenshots of every page a
// test visits (e2e/artifacts/screenshots/<spec>/<test>/NN-<name>.png).
import { test as base, expect, type APIRequestContext, type Browser, type BrowserContext, type Page, type TestInfo } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export { expect };

export const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
export const SESSION_URL = new RegExp(`/pilot/(${UUID})$`);
export const DOCUMENTATION_URL = new RegExp(`/pilot/(${UUID})/documentation(\\?.*)?$`);

/** A problem the built-in flow "Outlook keeps asking for a password" matches well. */
export const OUTLOOK_PROBLEM =
  'Outlook keeps asking for a password: the credentials prompt pops up again and again even though the password is correct.';

export interface Person {
  fullName: string;
  company: string;
  email: string;
  password: string;
}

let counter = 0;

export function newPerson(label: string, company?: string): Person {
  counter += 1;
  const tag = `${Date.now().toString(36)}${process.pid.toString(36)}${counter}`;
  return {
    fullName: `${label} ${tag}`,
    company: company ?? `${label} Company ${tag}`,
    email: `${label.toLowerCase().replace(/[^a-z0-9]+/g, '.')}.${tag}@example.test`,
    password: `correct horse ${tag}`,
  };
}

/** Full-page screenshots numbered in the order they were taken, one folder per test. */
export class Shots {
  private n = 0;
  constructor(private readonly info: TestInfo) {}

  dir(): string {
    const spec = path.basename(this.info.file).replace(/\.spec\.ts$/, '');
    const title = this.info.title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
    return path.join(__dirname, '..', 'artifacts', 'screenshots', spec, title);
  }

  async take(page: Page, name: string): Promise<void> {
    this.n += 1;
    const dir = this.dir();
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${String(this.n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
  }
}

/**
 * Dialogs a page opened. "Leave site?" prompts (`beforeunload`, from `data-guard-leave`) are
 * accepted so tests can navigate away from an active session; any other dialog (alert, confirm,
 * prompt) is recorded and dismissed: the XSS test asserts there were none.
 */
export function watchDialogs(page: Page): string[] {
  const seen: string[] = [];
  page.on('dialog', async (dialog) => {
    if (dialog.type() === 'beforeunload') {
      await dialog.accept();
    } else {
      seen.push(`${dialog.type()}: ${dialog.message()}`);
      await dialog.dismiss();
    }
  });
  return seen;
}

/** A new browser context (a second person at another computer), with the same dialog policy. */
export async function newPage(
  browser: Browser,
  baseURL: string | undefined,
  options: Parameters<Browser['newContext']>[0] = {},
): Promise<{ context: BrowserContext; page: Page; dialogs: string[] }> {
  const context = await browser.newContext({ baseURL, ...options });
  const page = await context.newPage();
  const dialogs = watchDialogs(page);
  return { context, page, dialogs };
}

export async function signUp(page: Page, person: Person, shots?: Shots): Promise<void> {
  await page.goto('/signup');
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  await page.getByLabel('Full name').fill(person.fullName);
  await page.getByLabel('Company').fill(person.company);
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  if (shots) await shots.take(page, 'signup');
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
  await expect(page).toHaveURL(/\/pilot$/);
}

export async function signIn(page: Page, person: Pick<Person, 'email' | 'password'>, shots?: Shots): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Email').fill(person.email);
  await page.getByLabel('Password').fill(person.password);
  if (shots) await shots.take(page, 'login');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/pilot$/);
}

/** Fills the intake and starts a session; returns the new session's id. */
export async function startSession(page: Page, text: string, log?: string, shots?: Shots): Promise<string> {
  if (!/\/pilot$/.test(new URL(page.url()).pathname)) await page.goto('/pilot');
  await page.getByLabel('Describe the problem').fill(text);
  if (log !== undefined) await page.getByLabel('Log or error output (optional)').fill(log);
  if (shots) await shots.take(page, 'intake');
  await page.getByRole('button', { name: 'Start session', exact: true }).click();
  await expect(page).toHaveURL(SESSION_URL);
  return SESSION_URL.exec(new URL(page.url()).pathname)![1];
}

/** The current step's container on the session page. */
export function currentStep(page: Page) {
  return page.locator('[data-current-step]');
}

/** The session sidebar. */
export function sidebar(page: Page) {
  return page.getByRole('complementary', { name: 'Session' });
}

/** Signs in through the JSON API and returns a bearer token (the API does not take the cookie). */
export async function apiToken(request: APIRequestContext, person: Pick<Person, 'email' | 'password'>): Promise<string> {
  const res = await request.post('/api/v1/auth/login', { data: { email: person.email, password: person.password } });
  expect(res.status(), await res.text()).toBe(200);
  const body = await res.json();
  return body.access_token as string;
}

/** An admin adds a colleague to their account through `POST /api/v1/users`. */
export async function createColleague(
  request: APIRequestContext,
  adminToken: string,
  colleague: Person,
  role: 'engineer' | 'admin' | 'viewer' = 'engineer',
): Promise<void> {
  const res = await request.post('/api/v1/users', {
    headers: { Authorization: `Bearer ${adminToken}` },
    data: { email: colleague.email, password: colleague.password, full_name: colleague.fullName, role },
  });
  expect(res.status(), await res.text()).toBe(201);
}

/** Moves keyboard focus out of any text field, so the 1–9 shortcuts apply. */
export async function blurTextFields(page: Page): Promise<void> {
  await page.evaluate(() => {
    const active = document.activeElement as HTMLElement | null;
    if (active && active !== document.body) active.blur();
  });
}

type Fixtures = { shots: Shots; dialogs: string[] };

export const test = base.extend<Fixtures>({
  shots: async ({}, use, testInfo) => {
    await use(new Shots(testInfo));
  },
  // Automatic, so every test's page accepts "Leave site?" prompts.
  dialogs: [
    async ({ page }, use) => {
      await use(watchDialogs(page));
    },
    { auto: true },
  ],
});
