import { describe } from 'vitest'
import { PostgresStore } from '../../packages/server/src/store/postgres-store.js'
import { runStoreConformance } from '../support/store-conformance.js'
import { NEEDS_POSTGRES, POSTGRES_URL, testSchema } from '../support/services.js'

describe.skipIf(POSTGRES_URL === undefined)(`PostgresStore${NEEDS_POSTGRES}`, () => {
  // Each test gets a schema of its own, dropped afterwards: runs never see each other's rows.
  runStoreConformance('PostgresStore', async () => {
    const schema = testSchema()
    return {
      store: new PostgresStore({ connectionString: schema.url, schema: schema.name, poolSize: 4 }),
      cleanup: () => schema.drop(),
    }
  })
})
