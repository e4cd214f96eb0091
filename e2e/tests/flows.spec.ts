// The flow library: paging, search, the domain filter, and a flow's outline.
import { expect, newPerson, signUp, test } from './fixtures';

test('the flow library: paging, search, domain filter and a flow outline', async ({ page, shots }) => {
  await signUp(page, newPerson('Library'));
  await page.goto('/flows');
  await expect(page.getByLabel('Domain')).toBeVisible();
  await shots.take(page, 'flows');

  // Paging: the built-in library is longer than one page.
  const rows = page.locator('main a[href^="/flows/"]');
  const firstOnPage1 = await rows.first().getAttribute('href');
  await expect(page.getByRole('link', { name: 'Previous', exact: true })).toHaveCount(0);
  await page.getByRole('link', { name: 'Next', exact: true }).click();
  await expect(page).toHaveURL(/[?&]page=2/);
  await expect(page.locator(`main a[href="${firstOnPage1}"]`)).toHaveCount(0);
  await expect(rows.first()).toBeVisible();
  await shots.take(page, 'flows-page-2');
  await page.getByRole('link', { name: 'Previous', exact: true }).click();
  await expect(page.locator(`main a[href="${firstOnPage1}"]`)).toBeVisible();
  await page.getByLabel('Search flows').fill('password prompt');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(/\/flows\?/);
  const flow = page.locator('main a[href^="/flows/"]', { hasText: 'Outlook keeps asking for a password' });
  await expect(flow).toBeVisible();
  await shots.take(page, 'flows-search');

  // The domain filter: email flows keep it, network flows drop it.
  const domain = page.getByLabel('Domain');
  const network = await domain.locator('option', { hasText: /network/i }).first().getAttribute('value');
  await page.getByLabel('Search flows').fill('');
  await domain.selectOption(network!);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`domain=${network}`));
  await expect(page.locator('main a[href^="/flows/"]').first()).toBeVisible();
  await expect(flow).toHaveCount(0);
  await shots.take(page, 'flows-domain');

  await page.goto('/flows');
  await page.getByLabel('Search flows').fill('outlook');
  await page.getByRole('button', { name: 'Search', exact: true }).click();
  await page.locator('main a[href^="/flows/"]', { hasText: 'Outlook keeps asking for a password' }).click();
  await expect(page).toHaveURL(/\/flows\/[^/?]+$/);
  await expect(page.getByRole('heading', { level: 1 })).toContainText('Outlook keeps asking for a password');
  // The outline: questions, options and outcomes.
  await expect(page.locator('main')).toContainText('Is it one user or several?');
  await expect(page.locator('main')).toContainText('Several users');
  await expect(page.locator('main')).toContainText('Stale cached credentials');
  await shots.take(page, 'flow-outline');
});
