'use strict';
// The Express side of the interop tests: express-session on a shared store,
// configured entirely by environment variables (see conftest.py, which sets
// them from the same pairing the Django side is given).
//
//   EXPRESS             express4 | express5 (the npm aliases in package.json)
//   LISTEN_FD           an already listening socket to serve on (else PORT)
//   SESSION_SECRETS     JSON array of secrets; the first one signs
//   SESSION_NAME        the cookie name
//   SESSION_OPTIONS     JSON: resave, saveUninitialized, rolling, proxy
//   SESSION_COOKIE      JSON: express cookie options (maxAge in ms)
//   TRUST_PROXY         JSON value for app.set('trust proxy', ...), if set
//   STORE               redis (connect-redis) | pg (connect-pg-simple)
//   REDIS_URL, STORE_PREFIX, STORE_TTL             for STORE=redis
//   REDIS_CLUSTER       1: REDIS_URL is a node of a Redis Cluster (node-redis createCluster)
//   PG_URL, PG_TABLE, STORE_TTL                    for STORE=pg (PGOPTIONS reaches pg too)
//
// Every route answers JSON describing the session as the handler saw it;
// ?delay=<ms> holds a request between loading its session and handling it.

const express = require(process.env.EXPRESS || 'express5');
const session = require('express-session');

function json(name, fallback) {
  const raw = process.env[name];
  return raw === undefined || raw === '' ? fallback : JSON.parse(raw);
}

async function makeStore() {
  const kind = process.env.STORE || 'redis';
  if (kind === 'redis') {
    const { createClient, createCluster } = require('redis');
    const { RedisStore } = require('connect-redis');
    // No reconnecting: an unreachable Redis ends the app at once, which the
    // test's start-up check then reports with this output.
    const socket = { reconnectStrategy: false };
    const cluster = process.env.REDIS_CLUSTER === '1';
    const client = cluster
      ? createCluster({ rootNodes: [{ url: process.env.REDIS_URL }], defaults: { socket } })
      : createClient({ url: process.env.REDIS_URL, socket });
    client.on('error', (err) => console.error('redis client error:', err));
    await client.connect();
    const options = { client, prefix: process.env.STORE_PREFIX };
    if (process.env.STORE_TTL) options.ttl = Number(process.env.STORE_TTL);
    return { store: new RedisStore(options), close: () => (cluster ? client.close() : client.quit()) };
  }
  if (kind === 'pg') {
    const PgStore = require('connect-pg-simple')(session);
    const options = {
      conString: process.env.PG_URL,
      tableName: process.env.PG_TABLE || 'session',
      createTableIfMissing: true,
      pruneSessionInterval: false,
    };
    if (process.env.STORE_TTL) options.ttl = Number(process.env.STORE_TTL);
    const store = new PgStore(options);
    return { store, close: () => store.close() };
  }
  throw new Error(`unknown STORE ${kind}`);
}

function describe(req) {
  if (!req.session) return { id: null, data: null, cookie: null, userId: null };
  const { cookie, ...data } = req.session;
  return { id: req.sessionID, data, cookie, userId: req.session.userId ?? null };
}

// The session as the handler sees it: express-session's end-of-request
// touch and save come after this (and before the response is complete).
function done(res, req) {
  res.json(describe(req));
}

async function main() {
  const { store, close } = await makeStore();
  const app = express();
  const trustProxy = json('TRUST_PROXY', undefined);
  if (trustProxy !== undefined) app.set('trust proxy', trustProxy);

  // Outside the session, so that waiting for the server creates no session.
  app.get('/health', (req, res) => res.type('text').send('ok'));
  // What an Express admin page would ask the store; no session needed either.
  app.get('/store/:what', (req, res, next) => {
    const what = req.params.what;
    if (!['length', 'ids', 'all'].includes(what) || typeof store[what] !== 'function') {
      return res.status(404).json({ error: `the store has no ${what}()` });
    }
    store[what]((err, result) => (err ? next(err) : res.json({ [what]: result })));
  });

  app.use(express.json({ limit: '20mb' }));
  app.use(
    session({
      store,
      secret: json('SESSION_SECRETS', ['keyboard cat']),
      name: process.env.SESSION_NAME || 'connect.sid',
      cookie: json('SESSION_COOKIE', {}),
      ...json('SESSION_OPTIONS', {}),
    }),
  );

  // ?delay=<ms>: the session is loaded now, and the handler runs (and the
  // session is saved or touched) after the wait, so that a request on the
  // other side can overlap this one.
  app.use((req, res, next) => {
    const delay = Number(req.query.delay || 0);
    if (delay > 0) setTimeout(next, delay);
    else next();
  });

  app.get('/read', (req, res) => done(res, req));

  app.post('/write', (req, res) => {
    Object.assign(req.session, req.body);
    done(res, req);
  });

  app.get('/whoami', (req, res) => done(res, req));

  // A login rotates the session id (as Django's login does), then records
  // the user, saving explicitly as express-session's README advises.
  app.post('/login', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = req.body.userId;
      req.session.save((saveErr) => (saveErr ? next(saveErr) : done(res, req)));
    });
  });

  app.post('/logout', (req, res, next) => {
    const id = req.sessionID;
    req.session.destroy((err) => (err ? next(err) : res.json({ destroyed: id })));
  });

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    console.error(err);
    res.status(500).json({ error: String(err && err.message) });
  });

  const server = process.env.LISTEN_FD
    ? app.listen({ fd: Number(process.env.LISTEN_FD) })
    : app.listen(Number(process.env.PORT || 3000), '127.0.0.1');
  server.on('listening', () => console.log(`listening (${process.env.EXPRESS || 'express5'})`));
  const stop = () => server.close(() => Promise.resolve(close()).finally(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
