/**
 * `rekey/sdk`: what applications embed.
 *
 * - {@link createSecretsClient}: read secrets from `rekey serve` with a TTL cache, background
 *   refresh, change events, and the last known value (with its age) when the server is down.
 * - {@link verifyApiKey} (node:http, Connect, Express), {@link verifyApiKeyFastify},
 *   {@link verifyApiKeyHono}, or {@link createKeyVerifier} directly: API key checks with a local
 *   cache that honour the grace window of a rotated key and report uses back to the server.
 */
export { createSecretsClient, SecretsClientError } from './secrets-client.js'
export type { SecretsClient, SecretsClientOptions, SecretResult, ChangeEvent, StaleEvent } from './secrets-client.js'
export { createKeyVerifier, verifyApiKey, verifyApiKeyFastify, verifyApiKeyHono, keyFromHeaders, VerifierUnavailableError } from './verify-middleware.js'
export type { KeyVerifier, KeyVerifierOptions, VerifyOutcome, VerifyMiddlewareOptions, FastifyLikeRequest, FastifyLikeReply, HonoLikeContext } from './verify-middleware.js'
export { createVerifyCache } from './verify-cache.js'
export type { VerifyCache } from './verify-cache.js'
