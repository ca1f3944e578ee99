// What other packages and the cross-package suites (test/) use of the controller.
export type { TokenResponse } from './auth/auth-schema.ts';
export type { AuthService } from './auth/auth-service.ts';
export { createAuthService } from './auth/auth-service.ts';
export type { Caller, SignedInCaller } from './auth/caller.ts';
export type { Principal, Role } from './auth/principal.ts';
export { ROLES, roleAtLeast } from './auth/principal.ts';
export { type Clock, ManualClock, systemClock } from './clock.ts';
export { type Config, ConfigError, isConfigError, loadConfig } from './config/config.ts';
export { type RunningController, type StartControllerOptions, startController } from './controller.ts';
export {
  type ControllerServices,
  type CreateServicesOptions,
  createServices,
  type Services,
} from './create-services.ts';
export { connect } from './database/connect.ts';
export { type EmbeddedDatabase, startEmbeddedDatabase } from './database/embedded-database.ts';
export { isMigrationError, MigrationError, migrate, schemaStatus } from './database/migrate.ts';
export type { Sql } from './database/sql.ts';
export { ApiError, type ApiErrorCode, isApiError, isApiErrorCode } from './http/api-error.ts';
export type { AppEnv, AuthedEnv } from './http/app-env.ts';
export { createApp, DOCS_PATH, OPENAPI_PATH } from './http/create-app.ts';
export { type RunningServer, serveHttp } from './http/serve.ts';
export { uuidv7, uuidv7Time } from './ids.ts';
export { createLogger } from './log.ts';
export { isServiceError, ServiceError, type ServiceErrorCode } from './service-error.ts';
