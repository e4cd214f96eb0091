// Every page works without JavaScript: sign up, the intake, answering a step by option and by
// free text, opening the resolve dialog, accepting the resolution suggestion and rating, all as
// plain links and form posts.
import {
  DOCUMENTATION_URL,
  OUTLOOK_PROBLEM,
  currentStep,
  expect,
  newPage,
  newPerson,
  signUp,
  startSession,
  test,
} from './fixtures';

test('intake and answering with JavaScript disabled', async ({ browser, baseURL, shots }) => {
  const { context, page } = await newPage(browser, baseURL, { javaScriptEnabled: false });
  try {
    await signUp(page, newPerson('No Script'), shots);
    const id = await startSession(page, OUTLOOK_PROBLEM, undefined, shots);

    const step = currentStep(page);
    await expect(step.getByRole('heading')).toContainText('Is it one user or several?');
    await shots.take(page, 'step-1');
    await step.getByRole('button', { name: 'One user', exact: true }).click();

    await expect(page).toHaveURL(new RegExp(`/pilot/${id}$`));
    await expect(step.getByRole('heading')).toContainText('Credential Manager');
    await expect(page.locator('main').getByText('One user').first()).toBeVisible();
    await shots.take(page, 'step-2');
    // Free text after an action: read as "done, that worked".
    await step.getByLabel('Your answer').fill('Yes, that worked: Outlook connected after clearing the credentials.');
    await step.getByRole('button', { name: 'Send', exact: true }).click();

    await expect(step.getByRole('button', { name: 'Accept & resolve', exact: true })).toBeVisible();
    await expect(step).toContainText('Stale cached credentials');
    await shots.take(page, 'suggestion');

    // The sidebar's dialogs open without script too (a plain GET), and cancel back.
    await expect(page.getByLabel('Resolution summary', { exact: true })).toBeHidden();
    await page.getByRole('complementary', { name: 'Session' }).getByRole('button', { name: 'Resolve', exact: true }).click();
    await expect(page.getByLabel('Resolution summary', { exact: true })).toBeVisible();
    await shots.take(page, 'resolve-dialog');
    await page.getByRole('dialog').getByRole('link', { name: 'Cancel', exact: true }).click();
    await expect(page.getByLabel('Resolution summary', { exact: true })).toBeHidden();

    await step.getByRole('button', { name: 'Accept & resolve', exact: true }).click();

    await expect(page).toHaveURL(DOCUMENTATION_URL);
    await expect(page.locator('article')).toContainText('Stale cached credentials');
    await shots.take(page, 'documentation');

    await page.getByRole('radio', { name: '5 stars', exact: true }).check();
    await page.getByRole('button', { name: 'Submit rating', exact: true }).click();
    await expect(page).toHaveURL(DOCUMENTATION_URL);
    await expect(page.getByRole('status').filter({ hasText: 'Thanks' })).toBeVisible();
  } finally {
    await context.close();
  }
});
