// A session walked with the answers engineers type: the offline engine follows the flow on
// natural answers, asks again (on the same step, keeping the note) when it cannot tell what an
// answer means, and says why it is as confident as it is.
import { OUTLOOK_PROBLEM, currentStep, expect, newPerson, sidebar, signUp, startSession, test } from './fixtures';

test('natural answers follow the flow; an unclear one is asked again on the same step', async ({ page, shots }) => {
  const me = newPerson('Guidance');
  await signUp(page, me);
  await startSession(page, OUTLOOK_PROBLEM);

  const step = currentStep(page);
  const aside = sidebar(page);
  await expect(step.getByRole('heading')).toContainText('Is it one user or several?');
  await expect(aside.getByRole('list', { name: 'Why this confidence' }).getByRole('listitem').first()).toBeVisible();

  // An answer that says nothing about the question: the same step, the note kept, a question back.
  await step.getByLabel('Your answer').fill('hmm, hard to say');
  await step.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(step.getByRole('heading')).toContainText('Is it one user or several?');
  await expect(step.locator('[data-clarification]')).toContainText('One user');
  await expect(step.locator('.observations')).toContainText('hmm, hard to say');
  await expect(page.locator('main')).not.toContainText('did not match');
  await expect(page.locator('.step-past')).toHaveCount(0);
  await shots.take(page, 'asked-again');

  // Answers as engineers type them.
  await step.getByLabel('Your answer').fill('only the front desk PC');
  await step.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(step.getByRole('heading')).toContainText('Credential Manager');
  await expect(page.locator('.step-past')).toHaveCount(1);
  await expect(page.locator('.step-past')).toContainText('hmm, hard to say');

  await step.getByLabel('Your answer').fill('still the same');
  await step.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(page.locator('.step-past')).toHaveCount(2);
  await expect(step.getByRole('heading')).not.toContainText('Credential Manager');
  await expect(page.locator('main')).not.toContainText('did not match');
  await shots.take(page, 'third-step');
});
