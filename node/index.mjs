// ESM entry: the CommonJS module's exports as named exports.
import litecommit from './index.js';

export const { Committer, LitecommitError } = litecommit;
export default litecommit;
