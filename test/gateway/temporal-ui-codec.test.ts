import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { PROJECT_ROOT } from '../../src/config';
import { invoiceWorkflowId, providerEventSignal } from '../../src/workflows/definitions';
import { launchChromium, type LaunchedBrowser } from '../support/browser';
import { fakeEvent, fakeRegistry } from '../support/fake-provider';
import { startHttpsProxy, type HttpsProxy } from '../support/https-proxy';
import { personalRequest } from '../support/personal';
import { startTestEnv, type TestEnv } from '../support/temporal-env';
import { codecAccess } from './codec-access';
import { startTestGateway, type TestGateway } from './gateway-env';

/** How the UI (2.42, as the CLI v1.5.1 ships it) shows a payload it could not decode: its encoding, in base64. */
const SEALED_ENCODING = Buffer.from('binary/encrypted').toString('base64');

/**
 * The browser-side "Codec Server" setting of the Temporal UI, as its settings dialog stores it: JSON values in
 * localStorage under `endpoint` and `passAccessToken`. The UI sends a token only to an https endpoint, and takes it
 * from `globalThis.AccessToken` when that is defined (how an embedding page supplies one); without it the token of
 * the UI's own OIDC login, which this dev server does not have.
 */
interface UiCodecSetting {
  endpoint: string;
  token: string;
}

describe('the Temporal UI with the codec server', () => {
  const { registry } = fakeRegistry();
  const access = codecAccess();
  const { request, personal } = personalRequest();
  const workflowId = invoiceWorkflowId(request.invoiceId);
  const artifacts = path.join(PROJECT_ROOT, 'test-artifacts');
  let env: TestEnv;
  let gateway: TestGateway;
  let proxy: HttpsProxy;
  let uiUrl: string;
  const browsers: LaunchedBrowser[] = [];

  beforeAll(async () => {
    uiUrl = process.env.TEST_TEMPORAL_UI_URL ?? '';
    if (!uiUrl) throw new Error('TEST_TEMPORAL_UI_URL is unset: the dev server of this run has no UI.');
    // The codec server answers the browser only when the page's origin is the configured UI origin (CORS).
    env = await startTestEnv({ providers: registry, env: { TEMPORAL_UI_ORIGIN: new URL(uiUrl).origin } });
    gateway = await startTestGateway(env, { providers: registry, ...access.gateway });
    proxy = await startHttpsProxy(gateway.url);
    await mkdir(artifacts, { recursive: true });
    await env.invoices.startInvoice(request);
    await env.invoices
      .handle(request.invoiceId)
      .signal(providerEventSignal, fakeEvent(request, 'ui-settle', 'settled'));
    expect((await env.invoices.waitForResult(request.invoiceId)).status).toBe('COMPLETED');
  });
  afterAll(async () => {
    for (const browser of browsers) await browser.close();
    await proxy?.close();
    await gateway?.close();
    await env?.stop();
  });

  /** The invoice's page in a fresh browser profile, with the UI's codec setting or without it. */
  async function invoicePage(codec: UiCodecSetting | undefined): Promise<Page> {
    // Trusts the proxy's self-signed certificate, and no other.
    const browser = await launchChromium({ width: 1600, height: 1000 }, [
      `--ignore-certificate-errors-spki-list=${proxy.spkiHash}`,
    ]);
    browsers.push(browser);
    if (codec) {
      await browser.context.addInitScript((setting: UiCodecSetting) => {
        // Runs in the page, which has a localStorage; this project compiles without the DOM's types.
        const { localStorage } = globalThis as unknown as {
          localStorage: { setItem(key: string, value: string): void };
        };
        localStorage.setItem('endpoint', JSON.stringify(setting.endpoint));
        localStorage.setItem('passAccessToken', 'true');
        Object.assign(globalThis, { AccessToken: () => Promise.resolve(setting.token) });
      }, codec);
    }
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    await page.goto(`${uiUrl}/namespaces/${env.namespace}/workflows/${encodeURIComponent(workflowId)}`);
    await page.getByText(workflowId).first().waitFor({ timeout: 30_000 });
    // The Input panel is open by default on this UI version's workflow page: no click needed to show the input.
    return page;
  }

  const decodeCalls = () => proxy.seen.filter((call) => call.method === 'POST' && call.path === '/codec/decode');

  it('shows the decrypted customer on the invoice page for a caller the codec server allows', async () => {
    const page = await invoicePage({ endpoint: `${proxy.url}/codec`, token: access.allowedToken });
    await page.getByText(personal.email).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(artifacts, 'temporal-ui-codec.png'), fullPage: true });
    expect(await page.getByText(personal.email).count()).toBeGreaterThan(0);
    expect(await page.getByText(personal.lastName).count()).toBeGreaterThan(0);
    expect(decodeCalls().length).toBeGreaterThan(0);
    expect(decodeCalls().every((call) => call.status === 200)).toBe(true);
  });

  it('shows ciphertext and no customer field without the codec setting', async () => {
    const before = decodeCalls().length;
    const page = await invoicePage(undefined);
    // The input rendered, as sealed bytes: the absence below is of a field the page would have shown.
    await page.getByText(SEALED_ENCODING).first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: path.join(artifacts, 'temporal-ui-no-codec.png'), fullPage: true });
    expect(await page.getByText(personal.email).count()).toBe(0);
    expect(await page.content()).not.toContain(personal.email);
    expect(decodeCalls().length).toBe(before);
  });

  it('shows ciphertext and no customer field when the codec server refuses the token', async () => {
    const refused = access.refused.find((caller) => caller.status === 403) ?? access.refused[0];
    const token = refused?.headers.authorization?.replace(/^Bearer /, '') ?? 'no-token';
    const before = decodeCalls().length;
    const page = await invoicePage({ endpoint: `${proxy.url}/codec`, token });
    await page.getByText(SEALED_ENCODING).first().waitFor({ timeout: 30_000 });
    expect(await page.content()).not.toContain(personal.email);
    // The UI did ask, and was refused: the ciphertext is the codec server's doing, not a setting the UI ignored.
    const asked = decodeCalls().slice(before);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((call) => call.status === refused?.status)).toBe(true);
  });
});
