import { execFile } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface HttpsProxy {
  /** `https://127.0.0.1:<port>`, forwarding every request to the target. */
  url: string;
  /** Chromium's `--ignore-certificate-errors-spki-list` value that trusts this proxy's certificate and no other. */
  spkiHash: string;
  /** Each request forwarded, with the target's answer. */
  seen: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1, made with the openssl CLI (Node can verify certificates, not issue them). */
async function selfSignedCertificate(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'test-tls-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    const args = [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1'],
      ...['-addext', 'subjectAltName=IP:127.0.0.1'],
    ];
    await new Promise<void>((resolve, reject) => {
      execFile('openssl', args, (error, _stdout, stderr) =>
        error
          ? reject(new Error(`openssl could not make a test certificate: ${stderr.trim() || error.message}`))
          : resolve(),
      );
    });
    return { key: await readFile(keyFile), cert: await readFile(certFile) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * TLS in front of a plain-HTTP test server, for browser code that talks only to https endpoints (the Temporal UI
 * sends its access token to a codec server only over https).
 */
export async function startHttpsProxy(target: string): Promise<HttpsProxy> {
  const { key, cert } = await selfSignedCertificate();
  const upstream = new URL(target);
  const seen: HttpsProxy['seen'] = [];
  const server = https.createServer({ key, cert }, (request, response) => {
    const forwarded = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: request.url,
        method: request.method,
        headers: request.headers,
      },
      (answer) => {
        seen.push({ method: request.method ?? '', path: request.url ?? '', status: answer.statusCode ?? 0 });
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    forwarded.on('error', (error) => {
      response.writeHead(502).end(error.message);
    });
    request.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return {
    url: `https://127.0.0.1:${port}`,
    spkiHash: createHash('sha256').update(spki).digest('base64'),
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
