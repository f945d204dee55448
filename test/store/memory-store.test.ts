import { MemoryStore } from '../../packages/server/src/store/memory-store.js'
import { runStoreConformance } from '../support/store-conformance.js'

runStoreConformance('MemoryStore', async () => ({
  store: new MemoryStore(),
  cleanup: async () => {},
}))
