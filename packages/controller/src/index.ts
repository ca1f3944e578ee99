// What other packages and the cross-package suites (test/) use of the controller.
export type { AuthService, TokenResponse } from './auth/auth-service.ts';
export { createAuthService } from './auth/auth-service.ts';
export type { Principal, Role } from './auth/principal.ts';
export { ROLES, roleAtLeast } from './auth/principal.ts';
export { type Clock, ManualClock, systemClock } from './clock.ts';
export { type Config, ConfigError, isConfigError, loadConfig } from './config/config.ts';
export { type RunningController, type StartControllerOptions, startController } from './controller.ts';
export { ApiError, type ApiErrorCode, isApiError, isApiErrorCode } from './http/api-error.ts';
export type { AppEnv, Services } from './http/app-env.ts';
export { createApp, DOCS_PATH, OPENAPI_PATH } from './http/create-app.ts';
export { type RunningServer, serveHttp } from './http/serve.ts';
export { uuidv7, uuidv7Time } from './ids.ts';
export { createLogger } from './log.ts';
export { connect } from './store/connect.ts';
export { type EmbeddedDatabase, startEmbeddedDatabase } from './store/embedded-database.ts';
export { isMigrationError, MigrationError, migrate, schemaStatus } from './store/migrate.ts';
export type { Sql } from './store/sql.ts';
