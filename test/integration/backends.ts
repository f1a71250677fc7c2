import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredCapsule } from '../../src/domain/capsules/capsule.js';
import type { CapsuleType } from '../../src/domain/capsules/capsule-types.js';
import { createDatabase, type Database, migrateLatest } from '../../src/storage/database.js';
import { createTestDatabase } from '../support/mysql.js';

/**
 * The two storage backends the integration suites run the same cases against: MariaDB (production) and SQLite
 * (the embedded default). Each `describe` made by `describeEachBackend` gets its own fresh, migrated database,
 * and destroys every Knex instance it opened and drops the database in `after`.
 */
export type BackendKind = 'mariadb' | 'sqlite';

interface ProvisionedDatabase {
  readonly url: string;
  dispose(): Promise<void>;
}

interface Backend {
  readonly title: string;
  readonly kind: BackendKind;
  provision(): Promise<ProvisionedDatabase>;
}

const BACKENDS: readonly Backend[] = [
  {
    title: 'MariaDB',
    kind: 'mariadb',
    provision: async () => {
      const database = await createTestDatabase();
      return { url: database.url, dispose: () => database.drop() };
    },
  },
  {
    title: 'SQLite',
    kind: 'sqlite',
    provision: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'cdoc2-integration-'));
      return {
        url: `sqlite:${join(dir, 'x.sqlite')}`,
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
  },
];

export interface BackendContext {
  readonly kind: BackendKind;
  /** The suite's database, migrated to the latest schema in `before`. */
  readonly db: Database;
  /** The URL of the suite's database. */
  readonly url: string;
  /** Another Knex instance on the same database (a second server instance); destroyed in the suite's `after`. */
  open(poolMax?: number): Database;
}

/** Defines `describe('MariaDB')` and `describe('SQLite')`, each running the cases `define` declares. */
export function describeEachBackend(define: (backend: BackendContext) => void): void {
  for (const backend of BACKENDS) {
    describe(backend.title, () => {
      let provisioned: ProvisionedDatabase | undefined;
      let main: Database | undefined;
      const opened: Database[] = [];

      const context: BackendContext = {
        kind: backend.kind,
        get db(): Database {
          if (!main) {
            throw new Error('the database is opened in before()');
          }
          return main;
        },
        get url(): string {
          if (!provisioned) {
            throw new Error('the database is provisioned in before()');
          }
          return provisioned.url;
        },
        open(poolMax?: number): Database {
          const db = createDatabase(poolMax === undefined ? { url: context.url } : { url: context.url, poolMax });
          opened.push(db);
          return db;
        },
      };

      before(async () => {
        provisioned = await backend.provision();
        main = context.open();
        await migrateLatest(main);
      });

      after(async () => {
        await Promise.all(opened.splice(0).map((db) => db.destroy()));
        await provisioned?.dispose();
      });

      define(context);
    });
  }
}

export const TABLE = 'key_capsules';

/** A fresh id shaped like the service's own (`KC` + 32 hex digits = 34 characters). */
export const newId = (): string => `KC${randomBytes(16).toString('hex')}`;

export interface CapsuleFields {
  readonly transactionId?: string;
  readonly capsuleType?: CapsuleType;
  readonly recipientId?: Uint8Array;
  readonly ephemeralKeyMaterial?: Uint8Array;
  readonly expiryTime?: Date;
  readonly expiryTimeAdjusted?: boolean;
  readonly createdAt?: Date;
}

export const bytes = (length: number): Uint8Array => new Uint8Array(randomBytes(length));

/** A capsule with random bytes; the fields given override the defaults. */
export function makeCapsule(fields: CapsuleFields = {}): StoredCapsule {
  return {
    transactionId: fields.transactionId ?? newId(),
    capsuleType: fields.capsuleType ?? 'ecc_secp256r1',
    recipientId: fields.recipientId ?? bytes(65),
    ephemeralKeyMaterial: fields.ephemeralKeyMaterial ?? bytes(65),
    expiryTime: fields.expiryTime ?? new Date('2030-06-01T12:00:00.123Z'),
    expiryTimeAdjusted: fields.expiryTimeAdjusted ?? false,
    createdAt: fields.createdAt ?? new Date('2030-05-01T12:00:00.456Z'),
  };
}

/** The transaction ids left in the table, sorted. */
export async function remainingIds(db: Database): Promise<string[]> {
  // VARBINARY on MySQL-compatible servers (read back as Buffers), TEXT on SQLite.
  const ids = await db(TABLE).pluck<Array<string | Buffer>>('transaction_id');
  return ids.map((id) => (Buffer.isBuffer(id) ? id.toString('latin1') : id)).sort();
}

/**
 * A store on the suite's database, made in `before` by `create`, with `tables` emptied (in the order given) before
 * every case. The store is returned at once, as a stand-in that forwards each call to the one made in `before`.
 */
export function storeOn<Store extends object>(
  backend: BackendContext,
  create: (db: Database) => Store,
  tables: readonly string[],
): Store {
  let store: Store | undefined;
  before(() => {
    store = create(backend.db);
  });
  beforeEach(async () => {
    for (const table of tables) {
      await backend.db(table).delete();
    }
  });
  return new Proxy({} as Store, {
    get(_target, property) {
      if (!store) {
        throw new Error('the store is made in before()');
      }
      const value: unknown = Reflect.get(store, property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(store) : value;
    },
  });
}
