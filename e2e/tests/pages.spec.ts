// The pages around the sessions: home, sign-in, sign-out, the 404 page.
import { expect, newPerson, signIn, signUp, test } from './fixtures';

test('home links both ways in and sends a signed-in user to the pilot', async ({ page, shots }) => {
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Sign in', exact: true })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Create account', exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toHaveCount(0);
  await shots.take(page, 'home');

  const me = newPerson('Returning');
  await signUp(page, me);
  await page.goto('/');
  await expect(page).toHaveURL(/\/pilot$/);

  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('button', { name: 'Sign out', exact: true })).toHaveCount(0);

  // A wrong password is refused with one message, then the right one signs in.
  await page.goto('/login');
  await page.getByLabel('Email').fill(me.email);
  await page.getByLabel('Password').fill('not the password at all');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('Incorrect email or password');
  await expect(page.getByLabel('Email')).toHaveValue(me.email);
  await shots.take(page, 'login-refused');
  await signIn(page, me, shots);
  await expect(page.getByLabel('Describe the problem')).toBeVisible();
  await shots.take(page, 'pilot');
});

test('sign-in returns to the page that asked for it', async ({ page }) => {
  const me = newPerson('Next');
  await signUp(page, me);
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.goto('/sessions');
  await expect(page).toHaveURL(/\/login\?next=%2Fsessions|\/login\?next=\/sessions/);
  await page.getByLabel('Email').fill(me.email);
  await page.getByLabel('Password').fill(me.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page).toHaveURL(/\/sessions$/);
});

test('an unknown page is an HTML 404', async ({ page, shots }) => {
  for (const path of ['/no-such-page', '/no/such/page.html']) {
    const res = await page.goto(path);
    expect(res?.status(), path).toBe(404);
    expect(res?.headers()['content-type'], path).toContain('text/html');
    await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
  }
  await shots.take(page, 'not-found');

  // Signed in, an unknown session id is the same 404.
  await signUp(page, newPerson('Lost'));
  const res = await page.goto('/pilot/00000000-0000-4000-8000-000000000000');
  expect(res?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Page not found' })).toBeVisible();
});
