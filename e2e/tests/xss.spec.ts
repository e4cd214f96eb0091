// Session text is data, never markup: an intake and a resolution summary full of HTML show
// literally on every page (session, history, documentation) and nothing in them runs.
import { DOCUMENTATION_URL, expect, sidebar, newPerson, signUp, startSession, test, type Page } from './fixtures';

const IMG = '<img src=x onerror="window.pwned=1;alert(1)">';
const SCRIPT = '<script>window.pwned=2;alert(2)</script>';
const INTAKE = `Outlook keeps asking for a password ${IMG} ${SCRIPT}`;
const LOG = `</textarea>${SCRIPT}<b>bold</b>`;
const SUMMARY = `Cleared credentials ${IMG} and <a href="javascript:window.pwned=3">link</a> ${SCRIPT}`;

async function assertInert(page: Page, dialogs: string[]): Promise<void> {
  // Escaping, tested without relying on the CSP: no element was made out of the text.
  await expect(page.locator('img[src="x"]')).toHaveCount(0);
  await expect(page.locator('a[href^="javascript:"]')).toHaveCount(0);
  await expect(page.locator('main b', { hasText: 'bold' })).toHaveCount(0);
  const inline = await page.evaluate(() =>
    Array.from(document.scripts).filter((s) => !s.src && (s.textContent ?? '').includes('pwned')).length,
  );
  expect(inline).toBe(0);
  // And nothing ran.
  expect(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned)).toBeUndefined();
  expect(dialogs).toEqual([]);
}

test('HTML in the intake and the resolution shows literally and never runs', async ({ page, dialogs, shots }) => {
  await signUp(page, newPerson('Mallory'));
  const id = await startSession(page, INTAKE, LOG, shots);

  // The session page: the text (in the sidebar's problem summary) shows as typed.
  await expect(page.locator('[data-current-step]')).toBeVisible();
  await expect(sidebar(page)).toContainText('<img src=x onerror=');
  await assertInert(page, dialogs);
  await shots.take(page, 'session');

  // The history.
  await page.goto('/sessions');
  await expect(page.locator(`main a[href="/pilot/${id}"]`)).toBeVisible();
  await assertInert(page, dialogs);
  await shots.take(page, 'history');

  // The documentation, rendered from Markdown that holds the same text.
  await page.goto(`/pilot/${id}`);
  await sidebar(page).getByRole('button', { name: 'Resolve', exact: true }).click();
  await page.getByLabel('Resolution summary', { exact: true }).fill(SUMMARY);
  await page.getByRole('button', { name: 'Confirm resolve', exact: true }).click();
  await expect(page).toHaveURL(DOCUMENTATION_URL);
  const article = page.locator('article');
  await expect(article).toContainText('<img src=x onerror=');
  await expect(article).toContainText('<script>window.pwned=2;alert(2)</script>');
  await expect(article).toContainText('<a href="javascript:window.pwned=3">link</a>');
  await assertInert(page, dialogs);
  await shots.take(page, 'documentation');
});
