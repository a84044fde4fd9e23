// An independent ActivityPub server, built with the Fedify framework, that
// follows one of Kabar's accounts the way a Mastodon user's server would:
// it resolves the handle by WebFinger, fetches and parses the actor, reads
// the outbox and a post, sends a signed Follow from its own user, and waits
// for Kabar's Accept, which Fedify takes only with a valid HTTP signature.
// Prints what it saw as one JSON line, then one line per activity Kabar then
// posts to its inbox (each taken only with a valid signature), and exits
// after EXPECT of them; non-zero on a failure or after 60 s without them.
//
//   node peer.mjs HANDLE [EXPECT]   e.g. node peer.mjs fr@127.0.0.1:8080 3
//
// Kabar speaks plain HTTP in tests, while WebFinger for an acct: handle is
// always asked over https: the one shim below sends those requests to the
// same host over http. Everything else is Fedify's own code.
import http from "node:http";
import {
  Accept, Create, createFederation, Endpoints, Follow, generateCryptoKeyPair,
  MemoryKvStore, Note, Person, Service, Update, Delete,
} from "@fedify/fedify";

const handle = process.argv[2];
const expect = Number(process.argv[3] ?? 0);
if (!handle) {
  console.error("usage: node peer.mjs HANDLE");
  process.exit(2);
}
const kabarHost = handle.split("@")[1];
const plainFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const url = input instanceof Request ? input.url : String(input);
  const prefix = `https://${kabarHost}/`;
  if (url.startsWith(prefix)) {
    const rewritten = `http://${kabarHost}/${url.slice(prefix.length)}`;
    return plainFetch(input instanceof Request ? new Request(rewritten, input) : rewritten, init);
  }
  return plainFetch(input, init);
};

const federation = createFederation({ kv: new MemoryKvStore(), allowPrivateAddress: true });
const keys = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const received = [];
let accepted;
const acceptedOnce = new Promise((resolve) => { accepted = resolve; });

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== "alice") return null;
    const [pair] = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: "Alice",
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      publicKey: pair.cryptographicKey,
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === "alice" ? [keys] : []));

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Accept, async (ctx, accept) => {
    const follow = await accept.getObject();
    received.push({
      type: "Accept",
      actor: accept.actorId?.href,
      object: follow instanceof Follow ? follow.id?.href : null,
    });
    accepted();
  })
  .on(Create, async (_ctx, activity) => report("Create", activity))
  .on(Update, async (_ctx, activity) => report("Update", activity))
  .on(Delete, async (_ctx, activity) => report("Delete", activity));

let reported = 0;
let following = false;
let allReported;
const allReportedOnce = new Promise((resolve) => { allReported = resolve; });

/// Prints an activity Kabar posted, with its object as Fedify reads it.
async function report(type, activity) {
  const object = await activity.getObject();
  const line = { type, id: activity.id?.href, actor: activity.actorId?.href, objectId: activity.objectId?.href };
  if (object instanceof Note) line.note = await describe(object);
  else if (object) line.objectType = object.constructor.name;
  if (!following) return; // only what follows the Follow is reported
  console.log(JSON.stringify(line));
  reported += 1;
  if (reported >= expect) allReported();
}

async function describe(note) {
  const tags = [];
  for await (const tag of note.getTags()) tags.push({ name: tag.name?.toString(), href: tag.href?.href });
  const attachments = [];
  for await (const attachment of note.getAttachments()) {
    attachments.push({ name: attachment.name?.toString(), url: attachment.url?.href });
  }
  return {
    id: note.id?.href,
    url: note.url?.href,
    attributedTo: note.attributionId?.href,
    content: note.content?.toString(),
    contentLanguages: note.contents.map((c) => c.language?.compact?.() ?? c.language?.toString()).filter(Boolean),
    summary: note.summary?.toString() ?? null,
    tags,
    attachments,
  };
}

// Fedify answers requests through the web's Request and Response.
const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const request = new Request(`http://${req.headers.host}${req.url}`, {
    method: req.method,
    headers: req.headers,
    body: body.length > 0 ? body : undefined,
  });
  const response = await federation.fetch(request, { contextData: undefined });
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${server.address().port}`;
const ctx = federation.createContext(new URL(origin), undefined);

function fail(message) {
  console.error(message);
  server.close();
  process.exit(1);
}

try {
  const actor = await ctx.lookupObject(handle);
  if (!(actor instanceof Service)) fail(`${handle} is not a Service: ${actor}`);
  const key = await actor.getPublicKey();
  const outbox = await actor.getOutbox();
  const firstPage = await outbox.getFirst();
  const items = [];
  for await (const item of firstPage.getItems()) items.push(item);
  const create = items[0];
  if (!(create instanceof Create)) fail(`the outbox's first item is not a Create: ${create}`);
  const note = await create.getObject();
  if (!(note instanceof Note)) fail(`the Create's object is not a Note: ${note}`);
  // The post, dereferenced by its id as a server that sees it boosted would.
  const fetched = await ctx.lookupObject(note.id.href);
  if (!(fetched instanceof Note)) fail(`${note.id.href} is not a Note: ${fetched}`);

  const follow = new Follow({
    id: new URL(`${origin}/follows/1`),
    actor: ctx.getActorUri("alice"),
    object: actor.id,
  });
  await ctx.sendActivity({ identifier: "alice" }, actor, follow);
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("no Accept within 20 s")), 20_000));
  await Promise.race([acceptedOnce, timeout]);

  console.log(JSON.stringify({
    peer: origin,
    follower: ctx.getActorUri("alice").href,
    actor: {
      id: actor.id.href,
      type: "Service",
      preferredUsername: actor.preferredUsername?.toString(),
      name: actor.name?.toString(),
      inbox: actor.inboxId?.href,
      sharedInbox: actor.endpoints?.sharedInbox?.href,
      followers: actor.followersId?.href,
      outbox: actor.outboxId?.href,
      keyId: key?.id?.href,
      keyOwner: key?.ownerId?.href,
    },
    outbox: { totalItems: outbox.totalItems, firstPageItems: items.length },
    note: await describe(fetched),
    received,
  }));
  following = true;
  if (expect > 0) {
    const waited = new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`${reported} of ${expect} activities within 60 s`)), 60_000));
    await Promise.race([allReportedOnce, waited]);
  }
} catch (error) {
  fail(`${error?.stack ?? error}`);
}
// Let Fedify finish answering Kabar's last POST before the server goes.
await new Promise((resolve) => setTimeout(resolve, 500));
server.close();
process.exit(0);
