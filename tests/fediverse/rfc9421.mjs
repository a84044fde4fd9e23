// A fediverse user on a server that speaks only RFC 9421 HTTP Message
// Signatures, with an independent implementation of them
// (http-message-signatures): it follows a Kabar account with an RFC 9421
// signed Follow, and its inbox refuses (401) anything not signed that way,
// so Kabar must fall back from draft-cavage. Every activity its inbox takes
// is verified with the library against the key Kabar's actor publishes.
// Prints one JSON line once the Follow was taken, then one per activity its
// inbox takes; exits after EXPECT of them (or fails after 60 s).
//
//   node rfc9421.mjs KABAR_ACTOR_URL EXPECT
import crypto from "node:crypto";
import http from "node:http";
import { createSigner, createVerifier, httpbis } from "http-message-signatures";

const [kabarActor, expectArg] = process.argv.slice(2);
const expect = Number(expectArg ?? 1);
if (!kabarActor) {
  console.error("usage: node rfc9421.mjs KABAR_ACTOR_URL EXPECT");
  process.exit(2);
}

const { publicKey, privateKey } = crypto.generateKeyPairSync("rsa", {
  modulusLength: 2048,
  publicKeyEncoding: { type: "spki", format: "pem" },
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
});
const digest = (body) => `sha-256=:${crypto.createHash("sha256").update(body).digest("base64")}:`;

let kabarKey;
async function kabarVerifier() {
  if (!kabarKey) {
    const res = await fetch(kabarActor, { headers: { accept: "application/activity+json" } });
    const actor = await res.json();
    kabarKey = { id: actor.publicKey.id, pem: actor.publicKey.publicKeyPem };
  }
  return kabarKey;
}

let refused = 0;
let taken = 0;
let done;
const allTaken = new Promise((resolve) => { done = resolve; });

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const url = `http://${req.headers.host}${req.url}`;
  if (req.method === "GET" && req.url === "/users/carol") {
    res.writeHead(200, { "content-type": "application/activity+json" });
    res.end(JSON.stringify(actorDocument()));
    return;
  }
  if (req.method !== "POST") {
    res.writeHead(404).end();
    return;
  }
  if (!req.headers["signature-input"]) {
    refused += 1;
    res.writeHead(401).end();
    return;
  }
  const key = await kabarVerifier();
  let verified = false;
  try {
    verified = await httpbis.verifyMessage({
      async keyLookup(params) {
        if (params.keyid !== key.id) return null;
        return { id: key.id, algs: ["rsa-v1_5-sha256"], verify: createVerifier(key.pem, "rsa-v1_5-sha256") };
      },
      requiredFields: ["@method", "@target-uri", "content-digest"],
    }, { method: req.method, url, headers: req.headers });
  } catch (error) {
    console.error(`verification failed: ${error}`);
  }
  if (!verified || req.headers["content-digest"] !== digest(body)) {
    res.writeHead(401).end();
    return;
  }
  res.writeHead(202).end();
  const activity = JSON.parse(body.toString());
  console.log(JSON.stringify({ type: activity.type, refusedBefore: refused, object: activity.object?.id ?? activity.object }));
  taken += 1;
  if (taken >= expect) done();
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const actorId = `${origin}/users/carol`;

function actorDocument() {
  return {
    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
    id: actorId,
    type: "Person",
    preferredUsername: "carol",
    inbox: `${actorId}/inbox`,
    publicKey: { id: `${actorId}#main-key`, owner: actorId, publicKeyPem: publicKey },
  };
}

try {
  const inbox = `${kabarActor}/inbox`;
  const follow = JSON.stringify({
    "@context": "https://www.w3.org/ns/activitystreams",
    id: `${origin}/follows/1`,
    type: "Follow",
    actor: actorId,
    object: kabarActor,
  });
  const signed = await httpbis.signMessage({
    key: createSigner(privateKey, "rsa-v1_5-sha256", `${actorId}#main-key`),
    fields: ["@method", "@target-uri", "content-digest"],
    params: ["created", "keyid", "alg"],
  }, {
    method: "POST",
    url: inbox,
    headers: { "content-type": "application/activity+json", "content-digest": digest(follow) },
  });
  const res = await fetch(inbox, { method: "POST", headers: signed.headers, body: follow });
  if (res.status !== 202) throw new Error(`Kabar answered the Follow ${res.status}: ${await res.text()}`);
  console.log(JSON.stringify({ followed: actorId }));
  const timeout = new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`${taken} of ${expect} activities within 60 s`)), 60_000));
  await Promise.race([allTaken, timeout]);
  await new Promise((resolve) => setTimeout(resolve, 300));
} catch (error) {
  console.error(`${error?.stack ?? error}`);
  server.close();
  process.exit(1);
}
server.close();
process.exit(0);
