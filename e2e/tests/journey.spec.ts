// The whole journey of one engineer: sign up, start a session the built-in Outlook flow
// matches, answer by click, by keyboard and by free text, pause and resume, resolve, read and
// rate the documentation, find the session in the history, sign out.
import {
  DOCUMENTATION_URL,
  OUTLOOK_PROBLEM,
  blurTextFields,
  currentStep,
  expect,
  newPerson,
  sidebar,
  signUp,
  startSession,
  test,
} from './fixtures';

test('sign up, troubleshoot, resolve, rate and find the session in the history', async ({ page, shots, context }) => {
  const me = newPerson('Journey');

  // Home, signed out: both ways in.
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Create account', exact: true })).toBeVisible();
  await shots.take(page, 'home');
  await page.getByRole('link', { name: 'Create account', exact: true }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await signUp(page, me, shots);

  // The intake.
  await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toBeVisible();
  const id = await startSession(
    page,
    OUTLOOK_PROBLEM,
    'Windows Security: Enter password. Microsoft Outlook: Need password.',
    shots,
  );

  // Step 1: the flow's first question, answered by click.
  const step = currentStep(page);
  await expect(step.getByRole('heading')).toContainText('Is it one user or several?');
  const aside = sidebar(page);
  await expect(aside).toBeVisible();
  await expect(aside).toContainText(/discovery|exploring|guided/);
  await expect(aside.locator('meter')).toHaveCount(1);
  await expect(aside.locator('a[href^="/flows/"]')).toHaveCount(1);
  await expect(aside.getByRole('button', { name: 'Resolve', exact: true })).toBeVisible();
  await expect(aside.getByRole('button', { name: 'Escalate', exact: true })).toBeVisible();
  await expect(aside.getByRole('button', { name: 'Pause', exact: true })).toBeVisible();
  await expect(step.locator('button[name="selected_option"]')).toHaveCount(2);
  await expect(step.getByRole('button', { name: 'Skip', exact: true })).toHaveCount(0);
  await shots.take(page, 'step-1-question');
  await step.getByRole('button', { name: 'Several users', exact: true }).click();

  // Step 2: an action; its first option ("Done, that worked") chosen with the key 1.
  await expect(step.getByRole('heading')).toContainText('Service health');
  await expect(page).toHaveURL(new RegExp(`/pilot/${id}$`));
  // The answered step is listed above, read-only, with its answer.
  const past = page.locator('main').getByText('Is it one user or several?').first();
  await expect(past).toBeVisible();
  await expect(step.getByText('Is it one user or several?')).toHaveCount(0);
  await expect(page.locator('main').getByText('Several users').first()).toBeVisible();
  await expect(step.getByRole('button', { name: 'Done, that worked', exact: true })).toBeVisible();
  await expect(step.getByRole('button', { name: 'Skip', exact: true })).toBeVisible();
  // An action step shows its expected outcome.
  await expect(step).toContainText('You find an incident or a common sign-in failure reason');
  await shots.take(page, 'step-2-action');
  await page.waitForLoadState('load'); // app.js (deferred) handles the shortcut keys
  await blurTextFields(page);
  await page.keyboard.press('1');

  // Step 3: a question, answered in free text ("Your answer" + "Send").
  await expect(step.getByRole('heading')).toContainText('What did you find?');
  await expect(page.locator('main').getByText('Done, that worked').first()).toBeVisible();
  // Digits typed into the text field are text, not shortcuts.
  await step.getByLabel('Your answer').pressSequentially('1');
  await expect(step.getByLabel('Your answer')).toHaveValue('1');
  await expect(step.getByRole('heading')).toContainText('What did you find?');
  await step.getByLabel('Your answer').fill('Microsoft service incident');
  await shots.take(page, 'step-3-free-text');
  await step.getByRole('button', { name: 'Send', exact: true }).click();

  // Step 4: the flow's solution, offered as a resolution suggestion.
  await expect(step.getByRole('button', { name: 'Accept & resolve', exact: true })).toBeVisible();
  await expect(step.getByRole('button', { name: 'Keep troubleshooting', exact: true })).toBeVisible();
  await expect(step).toContainText('service incident');
  await expect(page.locator('main').getByText('Microsoft service incident').first()).toBeVisible();
  await expect(aside).toContainText('guided');
  await shots.take(page, 'step-4-suggestion');

  // Pause and resume from the sidebar.
  await aside.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(aside.getByRole('button', { name: 'Resume', exact: true })).toBeVisible();
  await expect(aside.getByRole('button', { name: 'Pause', exact: true })).toHaveCount(0);
  await shots.take(page, 'paused');
  await aside.getByRole('button', { name: 'Resume', exact: true }).click();
  await expect(aside.getByRole('button', { name: 'Pause', exact: true })).toBeVisible();

  // Resolve through the sidebar's dialog, with our own summary.
  const summary = 'Microsoft 365 service incident EX123456 caused the prompts; they stopped once Microsoft fixed it.';
  await expect(page.getByLabel('Resolution summary', { exact: true })).toBeHidden();
  await aside.getByRole('button', { name: 'Resolve', exact: true }).click();
  await expect(page.getByLabel('Resolution summary', { exact: true })).toBeVisible();
  await page.getByLabel('Resolution summary', { exact: true }).fill(summary);
  await shots.take(page, 'resolve-dialog');
  await page.getByRole('button', { name: 'Confirm resolve', exact: true }).click();

  // The documentation.
  await expect(page).toHaveURL(DOCUMENTATION_URL);
  expect(DOCUMENTATION_URL.exec(new URL(page.url()).pathname)![1]).toBe(id);
  const article = page.locator('article');
  await expect(article).toBeVisible();
  await expect(article).toContainText(summary);
  await expect(article).toContainText('Outlook keeps asking for a password');
  await expect(article.getByRole('heading').first()).toBeVisible();
  await shots.take(page, 'documentation');

  // "Download Markdown" links to the .md file.
  const download = page.getByRole('link', { name: 'Download Markdown', exact: true });
  const href = await download.getAttribute('href');
  expect(href).toMatch(/\.md$/);
  const md = await page.request.get(href!);
  expect(md.status()).toBe(200);
  const markdown = await md.text();
  expect(markdown).toContain(summary);
  expect(markdown).toMatch(/^# /m);

  // "Copy as Markdown" puts the same Markdown on the clipboard.
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.waitForLoadState('load');
  await page.getByRole('button', { name: 'Copy as Markdown', exact: true }).click();
  await expect
    .poll(() => page.evaluate(() => navigator.clipboard.readText()))
    .toContain(summary);

  // Rating.
  const rating = page.getByRole('group').filter({ has: page.getByRole('radio', { name: '1 star', exact: true }) });
  for (const label of ['1 star', '2 stars', '3 stars', '4 stars', '5 stars']) {
    await expect(rating.getByRole('radio', { name: label, exact: true })).toHaveCount(1);
  }
  await rating.getByRole('radio', { name: '4 stars', exact: true }).check();
  await page.getByLabel('Feedback (optional)').fill('Clear steps, found the incident fast.');
  await shots.take(page, 'rating');
  await page.getByRole('button', { name: 'Submit rating', exact: true }).click();
  await expect(page).toHaveURL(DOCUMENTATION_URL);
  await expect(page.getByRole('status').filter({ hasText: 'Thanks' })).toBeVisible();
  await shots.take(page, 'rated');

  // History: the session is listed, its title links to it, the status filter keeps or drops it.
  await page.goto('/sessions');
  const link = page.locator(`main a[href="/pilot/${id}"]`);
  await expect(link).toBeVisible();
  await shots.take(page, 'history');
  const status = page.getByLabel('Status');
  const resolved = await status.locator('option', { hasText: /resolved/i }).first().getAttribute('value');
  await status.selectOption(resolved!);
  await page.getByRole('button', { name: 'Filter', exact: true }).click();
  await expect(page).toHaveURL(/\/sessions\?.*status=/);
  await expect(link).toBeVisible();
  await shots.take(page, 'history-resolved');
  const escalated = await status.locator('option', { hasText: /escalated/i }).first().getAttribute('value');
  await status.selectOption(escalated!);
  await page.getByRole('button', { name: 'Filter', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`status=${escalated}`));
  await expect(link).toHaveCount(0);

  // The title leads back to the (now read-only) session.
  await page.goto('/sessions');
  await link.click();
  await expect(page).toHaveURL(new RegExp(`/pilot/${id}$`));
  await expect(page.locator('main').getByText('Is it one user or several?')).toBeVisible();
  await expect(page.locator('button[name="selected_option"]')).toHaveCount(0);
  await shots.take(page, 'session-resolved');

  // Sign out from the header: back home, signed out.
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await page.goto('/pilot');
  await expect(page).toHaveURL(/\/login\?next=/);
});
