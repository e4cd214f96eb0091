// Escalation between two users of one account: the admin adds a colleague through the JSON
// API, escalates a session to them; the colleague, signed in in another browser, finds it in
// the history marked "Escalated to you" and opens its hand-off documentation.
import {
  DOCUMENTATION_URL,
  OUTLOOK_PROBLEM,
  apiToken,
  createColleague,
  currentStep,
  expect,
  newPage,
  newPerson,
  sidebar,
  signIn,
  signUp,
  startSession,
  test,
} from './fixtures';

test('escalate a session to a colleague who then sees the hand-off', async ({ page, shots, browser, baseURL, request }) => {
  const admin = newPerson('Escalating Admin');
  const colleague = newPerson('Bea Colleague', admin.company);

  await signUp(page, admin, shots);
  const token = await apiToken(request, admin);
  await createColleague(request, token, colleague);

  const id = await startSession(page, OUTLOOK_PROBLEM, undefined, shots);
  const step = currentStep(page);
  await expect(step.getByRole('heading')).toContainText('Is it one user or several?');
  await step.getByRole('button', { name: 'One user', exact: true }).click();
  await expect(step.getByRole('button', { name: 'Done, that worked', exact: true })).toBeVisible();
  await shots.take(page, 'session');

  // The escalate dialog lists the colleagues by full name.
  const reason = 'Credential Manager cleanup did not help; needs a tenant admin to check the sign-in logs.';
  await expect(page.getByLabel('Reason', { exact: true })).toBeHidden();
  await sidebar(page).getByRole('button', { name: 'Escalate', exact: true }).click();
  await expect(page.getByLabel('Reason', { exact: true })).toBeVisible();
  await page.getByLabel('Reason', { exact: true }).fill(reason);
  const to = page.getByLabel('Escalate to', { exact: true });
  await expect(to.locator('option', { hasText: colleague.fullName })).toHaveCount(1);
  await to.selectOption({ label: colleague.fullName });
  await shots.take(page, 'escalate-dialog');
  await page.getByRole('button', { name: 'Confirm escalate', exact: true }).click();

  // The hand-off package.
  await expect(page).toHaveURL(DOCUMENTATION_URL);
  expect(DOCUMENTATION_URL.exec(new URL(page.url()).pathname)![1]).toBe(id);
  const article = page.locator('article');
  await expect(article).toContainText(reason);
  await expect(article).toContainText(colleague.fullName);
  await expect(article).toContainText('Outlook keeps asking for a password');
  await shots.take(page, 'handoff');

  // The colleague, in a browser of their own.
  const other = await newPage(browser, baseURL);
  try {
    await signIn(other.page, colleague, shots);
    await other.page.goto('/sessions');
    const link = other.page.locator(`main a[href="/pilot/${id}"]`);
    await expect(link).toBeVisible();
    const row = other.page
      .locator('main')
      .locator('li, tr, article')
      .filter({ has: other.page.locator(`a[href="/pilot/${id}"]`) })
      .last();
    await expect(row).toContainText('Escalated to you');
    await shots.take(other.page, 'colleague-history');

    await link.click();
    await expect(other.page).toHaveURL(new RegExp(`/pilot/${id}$`));
    await expect(other.page.locator('main')).toContainText('Is it one user or several?');
    await shots.take(other.page, 'colleague-session');

    const doc = await other.page.goto(`/pilot/${id}/documentation`);
    expect(doc?.status()).toBe(200);
    await expect(other.page.locator('article')).toContainText(reason);
    await shots.take(other.page, 'colleague-handoff');
  } finally {
    await other.context.close();
  }

  // The admin's own history does not mark it "Escalated to you".
  await page.goto('/sessions');
  await expect(page.locator(`main a[href="/pilot/${id}"]`)).toBeVisible();
  await expect(page.locator('main')).not.toContainText('Escalated to you');
});
