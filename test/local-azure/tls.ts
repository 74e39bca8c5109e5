/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1 and
 * localhost, made at start-up. The CA is written to a temp folder so child
 * processes can trust it through NODE_EXTRA_CA_CERTS.
 */
import { generate } from "selfsigned";
import * as fs from "node:fs";
import * as path from "node:path";

export interface TlsMaterial {
  caCert: string;
  caCertPath: string;
  serverCert: string;
  serverKey: string;
  serverCertPath: string;
  serverKeyPath: string;
}

export async function createTlsMaterial(dir: string): Promise<TlsMaterial> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const notAfterDate = new Date(Date.now() + 7 * 24 * 3600_000);
  const ca = await generate([{ name: "commonName", value: "batch-adf-release local Azure test CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    keyType: "ec",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [
          { type: 2, value: "localhost" },
          { type: 7, ip: "127.0.0.1" },
        ],
      },
    ],
  });
  fs.mkdirSync(dir, { recursive: true });
  const caCertPath = path.join(dir, "ca.pem");
  const serverCertPath = path.join(dir, "server.pem");
  const serverKeyPath = path.join(dir, "server-key.pem");
  fs.writeFileSync(caCertPath, ca.cert);
  // The server chain carries the CA so clients that only trust the CA can verify it.
  fs.writeFileSync(serverCertPath, server.cert);
  fs.writeFileSync(serverKeyPath, server.private, { mode: 0o600 });
  return { caCert: ca.cert, caCertPath, serverCert: server.cert, serverKey: server.private, serverCertPath, serverKeyPath };
}

/** Reuses material made earlier (by the test runner, before Node read NODE_EXTRA_CA_CERTS), or makes it. */
export async function loadOrCreateTlsMaterial(dir: string): Promise<TlsMaterial> {
  const caCertPath = path.join(dir, "ca.pem");
  const serverCertPath = path.join(dir, "server.pem");
  const serverKeyPath = path.join(dir, "server-key.pem");
  if (fs.existsSync(caCertPath) && fs.existsSync(serverCertPath) && fs.existsSync(serverKeyPath)) {
    return {
      caCert: fs.readFileSync(caCertPath, "utf8"),
      caCertPath,
      serverCert: fs.readFileSync(serverCertPath, "utf8"),
      serverKey: fs.readFileSync(serverKeyPath, "utf8"),
      serverCertPath,
      serverKeyPath,
    };
  }
  return createTlsMaterial(dir);
}
