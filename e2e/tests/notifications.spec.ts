// Escalation notifications in the browser (escalation.md "Notifications"): an admin finds the
// Notifications page from the PSA settings, adds a Slack webhook with a signing secret, the
// escalation contacts and an unclaimed reminder; a bad address is marked on its fieldset and
// nothing is saved; the saved secret is never shown again, and the API reads what the form
// stored; "Send a test" reaches a local receiver and says so. axe's WCAG 2 A/AA rules in the
// light and the dark theme (screenshots of both).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { apiToken, expect, newPerson, signUp, test } from './fixtures';

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

async function axeFindings(page: Page, label: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).withTags(WCAG_TAGS).analyze();
  return [...results.violations, ...results.incomplete].map(
    (v) => `${label}: ${v.id} (${v.impact ?? 'n/a'}): ${v.help}\n    ${v.nodes.map((n) => n.target.join(' ')).join('\n    ')}`,
  );
}

test('an admin sets up a signed Slack webhook, contacts and a reminder on the Notifications page', async ({ page, shots, request }) => {
  const admin = newPerson('Notify Admin');
  await signUp(page, admin);
  await page.goto('/settings/psa');
  await page.getByRole('link', { name: 'Notifications', exact: true }).click();
  await expect(page).toHaveURL(/\/settings\/notifications$/);
  await expect(page.getByRole('heading', { level: 1, name: 'Notifications' })).toBeVisible();
  // This test server has no mail server: the page says so.
  await expect(page.locator('[data-smtp="unset"]')).toContainText('FLOWPILOT_SMTP_URL');
  await shots.take(page, 'empty');
  const findings = await axeFindings(page, 'notifications (light)');

  const adding = page.getByRole('group', { name: 'Add a webhook' });
  await adding.getByLabel('Address').fill('ftp://hooks.example.test/fp');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('Nothing was saved');
  const refused = page.locator('[data-webhook="0"]');
  await expect(refused.locator('.field-error')).toContainText('http:// or https://');
  await expect(refused.getByLabel('Address')).toHaveAttribute('aria-invalid', 'true');
  await shots.take(page, 'refused');
  findings.push(...(await axeFindings(page, 'notifications refused (light)')));

  await refused.getByLabel('Address').fill('https://hooks.example.test/services/T1/B2/c3');
  await refused.getByLabel('Format').selectOption('slack');
  await refused.getByLabel('An escalation is claimed').uncheck();
  await refused.getByLabel('Signing secret (optional)').fill('whsec-e2e-secret');
  await page.getByLabel('Escalation contacts').fill('lead@example.test\noncall@example.test');
  await page.getByLabel('Remind after this many minutes unclaimed').fill('30');
  await page.getByLabel('A session is escalated').first().check();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page).toHaveURL(/\/settings\/notifications\?saved=1$/);
  await expect(page.getByRole('status')).toContainText('Saved.');
  const saved = page.getByRole('group', { name: 'Webhook 1' });
  await expect(saved.getByLabel('Address')).toHaveValue('https://hooks.example.test/services/T1/B2/c3');
  await expect(saved.getByLabel('Format')).toHaveValue('slack');
  await expect(saved.getByText('Set, and never shown.')).toBeVisible();
  await expect(saved.getByLabel('Signing secret (optional)')).toHaveValue('');
  expect(await page.content()).not.toContain('whsec-e2e-secret');
  await expect(page.getByRole('group', { name: 'Add a webhook' })).toBeVisible();
  await shots.take(page, 'saved');
  findings.push(...(await axeFindings(page, 'notifications saved (light)')));
  await page.emulateMedia({ colorScheme: 'dark' });
  await shots.take(page, 'saved-dark');
  findings.push(...(await axeFindings(page, 'notifications saved (dark)')));
  await page.emulateMedia({ colorScheme: 'light' });

  // The API reads what the form stored.
  const token = await apiToken(request, admin);
  const res = await request.get('/api/v1/integrations/notifications', { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status()).toBe(200);
  const body = await res.json();
  expect(body.webhooks).toHaveLength(1);
  expect(body.webhooks[0]).toMatchObject({ format: 'slack', secret_set: true });
  expect(body.webhooks[0].events).toEqual(['escalated', 'unclaimed_reminder', 'check_back_reminder']);
  expect(body.escalation_contacts).toEqual(['lead@example.test', 'oncall@example.test']);
  expect(body.unclaimed_reminder_minutes).toBe(30);

  // Saved again without touching the secret, it stays; removing the webhook removes it.
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('group', { name: 'Webhook 1' }).getByText('Set, and never shown.')).toBeVisible();
  await page.getByRole('group', { name: 'Webhook 1' }).getByLabel('Remove this webhook').check();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await expect(page.getByRole('status')).toContainText('Saved.');
  await expect(page.getByRole('group', { name: 'Webhook 1' })).toHaveCount(0);

  expect(findings, `axe found WCAG 2 A/AA problems:\n${findings.join('\n')}`).toEqual([]);
});

test('an admin sends a test notification and sees which webhook took it', async ({ page, shots }) => {
  // A receiver on this machine, standing in for Slack: it counts what it is sent.
  const received: { event: string | undefined; body: string }[] = [];
  const receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      received.push({ event: req.headers['x-flowpilot-event'] as string | undefined, body });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const port = (receiver.address() as AddressInfo).port;
  try {
    await signUp(page, newPerson('Test Sender'));
    await page.goto('/settings/notifications');
    const adding = page.getByRole('group', { name: 'Add a webhook' });
    await adding.getByLabel('Address').fill(`http://127.0.0.1:${port}/services/T9/B9/secret-path`);
    await adding.getByLabel('Format').selectOption('slack');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await expect(page.getByRole('status')).toContainText('Saved.');

    await page.getByRole('button', { name: 'Send a test', exact: true }).click();
    const result = page.locator('[data-test-result="delivered"]');
    await expect(result).toContainText(`Webhook 1 · 127.0.0.1 (slack): delivered.`);
    await expect(page.locator('[data-test-result="failed"]')).toHaveCount(0);
    // The result names the host only: a Slack URL's path is its secret.
    await expect(result).not.toContainText('secret-path');
    expect(received).toHaveLength(1);
    expect(received[0].event).toBe('test');
    expect(JSON.parse(received[0].body).text).toContain('Test from FlowPilot (nothing was escalated)');
    await shots.take(page, 'test-sent');
    const findings = await axeFindings(page, 'notification test (light)');
    await page.emulateMedia({ colorScheme: 'dark' });
    findings.push(...(await axeFindings(page, 'notification test (dark)')));
    expect(findings, findings.join('\n')).toEqual([]);
  } finally {
    receiver.close();
  }
});
