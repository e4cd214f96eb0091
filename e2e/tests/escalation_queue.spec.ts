// The escalation queue, live (escalation.md): a colleague has the Escalations page open in a
// browser of their own; when the engineer escalates to the account's queue, the line appears
// without a reload. The colleague claims it and reads the briefing at the top of the session
// (screenshots in light and dark).
import {
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

test('the queue updates live and the claimer reads the briefing', async ({ page, shots, browser, baseURL, request }) => {
  const engineer = newPerson('Queue Engineer');
  const senior = newPerson('Sam Senior', engineer.company);
  await signUp(page, engineer, shots);
  const token = await apiToken(request, engineer);
  await createColleague(request, token, senior);

  const other = await newPage(browser, baseURL);
  try {
    await signIn(other.page, senior);
    await other.page.goto('/escalations?scope=account&status=open');
    await expect(other.page.getByRole('heading', { name: 'Escalations' })).toBeVisible();
    await expect(other.page.locator('[data-live-status]')).toContainText('Live');
    await other.page.evaluate(() => { (window as unknown as { notReloaded: boolean }).notReloaded = true; });

    const id = await startSession(page, OUTLOOK_PROBLEM);
    const step = currentStep(page);
    await step.getByRole('button', { name: 'One user', exact: true }).click();
    const noChange = step.getByRole('button', { name: /no change/i });
    await expect(noChange).toBeVisible();
    await noChange.click();
    // The answer reloads the page: wait for the next step, or the Escalate click below can
    // land on the page being replaced and its dialog never open.
    await expect(step.locator('.step-kind')).toContainText('Step 3');
    await expect(step.getByRole('heading')).toBeVisible();

    const reason = 'Cached credentials cleared, no change; the broker reset needs local admin rights I do not have.';
    await sidebar(page).getByRole('button', { name: 'Escalate', exact: true }).click();
    await page.getByLabel('Reason', { exact: true }).fill(reason);
    await page.getByRole('button', { name: 'Confirm escalate', exact: true }).click();
    await expect(page).toHaveURL(/\/documentation/);

    // The colleague's page shows it without a reload.
    const line = other.page.locator(`[data-session="${id}"]`);
    await expect(line).toBeVisible({ timeout: 10_000 });
    await expect(line).toContainText(reason);
    await expect(line).toContainText('Waiting');
    expect(await other.page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    await shots.take(other.page, 'queue-live');

    await line.getByRole('button', { name: 'Claim', exact: true }).click();
    await expect(other.page).toHaveURL(new RegExp(`/pilot/${id}$`));
    const briefing = other.page.locator('[data-briefing]');
    await expect(briefing).toContainText(reason);
    await expect(briefing).toContainText('Likely causes');
    await expect(briefing).toContainText('What was tried');
    await expect(briefing).toContainText('Claimed by you');
    await shots.take(other.page, 'briefing');

    // The engineer's own queue view: claimed, with who and after how long.
    await page.goto('/escalations?scope=account&status=claimed');
    await expect(page.locator(`[data-session="${id}"]`)).toContainText('Claimed by Sam Senior');
    await shots.take(page, 'queue-claimed');
  } finally {
    await other.context.close();
  }

  const dark = await newPage(browser, baseURL, { colorScheme: 'dark' });
  try {
    await signIn(dark.page, senior);
    await dark.page.goto('/escalations?scope=mine&status=claimed');
    const link = dark.page.locator('main h2 a').first();
    await link.click();
    await expect(dark.page.locator('[data-briefing]')).toBeVisible();
    await shots.take(dark.page, 'briefing-dark');
  } finally {
    await dark.context.close();
  }
});

// The escalate form offers the account's teams beside the colleagues and the queue, as the
// API does: the session lands in the queue with the team as its target.
test('escalate to a team from the page', async ({ page, shots, request }) => {
  const engineer = newPerson('Team Engineer');
  await signUp(page, engineer);
  const token = await apiToken(request, engineer);
  const created = await request.post('/api/v1/teams', {
    headers: { authorization: `Bearer ${token}` },
    data: { name: 'Tier 2 Messaging' },
  });
  expect(created.status(), await created.text()).toBe(201);
  const team = (await created.json()) as { id: string };

  const id = await startSession(page, OUTLOOK_PROBLEM);
  await currentStep(page).getByRole('button', { name: 'One user', exact: true }).click();
  await expect(currentStep(page).getByRole('button', { name: /no change/i })).toBeVisible();
  await sidebar(page).getByRole('button', { name: 'Escalate', exact: true }).click();
  await page.getByLabel('Reason', { exact: true }).fill('Mailbox permissions need the messaging team.');
  const to = page.getByLabel('Escalate to', { exact: true });
  await expect(to.locator('optgroup[label="Teams"] option')).toHaveText(['Tier 2 Messaging']);
  await to.selectOption({ label: 'Tier 2 Messaging' });
  await shots.take(page, 'escalate-to-team');
  await page.getByRole('button', { name: 'Confirm escalate', exact: true }).click();
  await expect(page).toHaveURL(/\/documentation/);

  const detail = await request.get(`/api/v1/ai-sessions/${id}`, { headers: { authorization: `Bearer ${token}` } });
  expect(detail.status()).toBe(200);
  expect((await detail.json()).escalation.escalated_to_team_id).toBe(team.id);
  await page.goto('/escalations?scope=account&status=open');
  await expect(page.locator(`[data-session="${id}"]`)).toContainText('Tier 2 Messaging');
});
