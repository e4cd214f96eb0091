// Another account's session is not there at all: 404, the same page as for an unknown id.
import { OUTLOOK_PROBLEM, expect, newPage, newPerson, signUp, startSession, test } from './fixtures';

test("another account's session answers 404", async ({ page, browser, baseURL, shots }) => {
  await signUp(page, newPerson('Owner'));
  const id = await startSession(page, OUTLOOK_PROBLEM);
  await expect(page.locator('[data-current-step]')).toBeVisible();

  const stranger = await newPage(browser, baseURL);
  try {
    await signUp(stranger.page, newPerson('Stranger'));
    for (const path of [`/pilot/${id}`, `/pilot/${id}/documentation`]) {
      const res = await stranger.page.goto(path);
      expect(res?.status(), path).toBe(404);
      expect(res?.headers()['content-type']).toContain('text/html');
      await expect(stranger.page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
      await expect(stranger.page.locator('main')).not.toContainText('Outlook');
    }
    await shots.take(stranger.page, 'cross-tenant-404');

    // Not in the stranger's history either.
    await stranger.page.goto('/sessions');
    await expect(stranger.page.locator(`a[href="/pilot/${id}"]`)).toHaveCount(0);

    // The owner still sees it.
    const own = await page.goto(`/pilot/${id}`);
    expect(own?.status()).toBe(200);
  } finally {
    await stranger.context.close();
  }
});
