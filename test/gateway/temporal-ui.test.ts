import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/config';
import { invoiceWorkflowId, providerEventSignal } from '../../src/workflows/definitions';
import { fakeRegistry } from '../support/fake-provider';
import { invoiceRequest } from '../support/requests';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { waitForStatus } from '../support/wait';

const CHROMIUM = '/usr/bin/chromium';

describe('Temporal UI shows the invoices', () => {
  const { registry } = fakeRegistry();
  let env: TestEnv;
  let context: BrowserContext | undefined;
  let profile: string | undefined;
  beforeAll(async () => {
    env = await startTestEnv({ providers: registry });
  });
  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await env?.stop();
  });

  it('lists a completed invoice under an InvoiceStatus query and shows the attribute on its page', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} is missing: install it (apt-get install -y chromium); this check never skips.`);
    }
    const uiUrl = process.env.TEST_TEMPORAL_UI_URL;
    if (!uiUrl) throw new Error('TEST_TEMPORAL_UI_URL is unset: the dev server of this run has no UI.');

    const completed = invoiceRequest();
    const waiting = invoiceRequest();
    await env.invoices.startInvoice(completed);
    await env.invoices.startInvoice(waiting);
    await waitForStatus(env.invoices, completed.invoiceId, 'AWAITING_SETTLEMENT');
    await env.invoices
      .handle(completed.invoiceId)
      .signal(providerEventSignal, { eventId: 'ui-settle', status: 'settled' });
    expect((await env.invoices.waitForResult(completed.invoiceId)).status).toBe('COMPLETED');
    await waitForStatus(env.invoices, waiting.invoiceId, 'AWAITING_SETTLEMENT');

    profile = await mkdtemp(path.join(os.tmpdir(), 'chromium-profile-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        '--disable-dev-shm-usage',
      ],
      viewport: { width: 1600, height: 1000 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const base = `${uiUrl}/namespaces/${env.namespace}/workflows`;
    const completedId = invoiceWorkflowId(completed.invoiceId);

    // Visibility catches up a moment after the workflow closes: reload until the list shows it.
    const query = `InvoiceStatus="COMPLETED" AND WorkflowId="${completedId}"`;
    let found = false;
    for (let attempt = 0; attempt < 10 && !found; attempt++) {
      await page.goto(`${base}?query=${encodeURIComponent(query)}`, { waitUntil: 'networkidle' });
      found = await page
        .getByText(completedId)
        .first()
        .waitFor({ timeout: 5_000 })
        .then(
          () => true,
          () => false,
        );
    }
    expect(found).toBe(true);
    expect(await page.getByText(invoiceWorkflowId(waiting.invoiceId)).count()).toBe(0);

    // The unfiltered list shows both invoices by workflow id.
    await page.goto(
      `${base}?query=${encodeURIComponent('InvoiceStatus="AWAITING_SETTLEMENT" OR InvoiceStatus="COMPLETED"')}`,
      {
        waitUntil: 'networkidle',
      },
    );
    await page.getByText(invoiceWorkflowId(waiting.invoiceId)).first().waitFor({ timeout: 15_000 });

    await page.goto(`${base}/${encodeURIComponent(completedId)}`, { waitUntil: 'networkidle' });
    await page.getByText(completedId).first().waitFor({ timeout: 15_000 });
    await page.getByText('Search Attributes', { exact: true }).first().click();
    await page.getByText('InvoiceStatus').first().waitFor({ timeout: 15_000 });
    const artifacts = path.join(PROJECT_ROOT, 'test-artifacts');
    await mkdir(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'temporal-ui.png'), fullPage: true });
    expect(await page.getByText('InvoiceStatus').count()).toBeGreaterThan(0);
    expect(await page.getByText('COMPLETED', { exact: false }).count()).toBeGreaterThan(0);
  });
});
