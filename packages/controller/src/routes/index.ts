import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../http/app-env.ts';
import type { FastRoute } from '../http/fast-lane.ts';
import { registerHealth } from './health.ts';
import { registerV1AuditList } from './v1-audit-list.ts';
import { registerV1AuthLogin } from './v1-auth-login.ts';
import { registerV1AuthLogout } from './v1-auth-logout.ts';
import { registerV1AuthRefresh } from './v1-auth-refresh.ts';
import { registerV1HostsDelete } from './v1-hosts-delete.ts';
import { registerV1HostsGet } from './v1-hosts-get.ts';
import { registerV1HostsJoinTokensCreate } from './v1-hosts-join-tokens-create.ts';
import { registerV1HostsList } from './v1-hosts-list.ts';
import { registerV1HostsMetrics } from './v1-hosts-metrics.ts';
import { registerV1MeGet } from './v1-me-get.ts';
import { registerV1MigrationsCancel } from './v1-migrations-cancel.ts';
import { registerV1MigrationsForceComplete } from './v1-migrations-force-complete.ts';
import { registerV1MigrationsGet } from './v1-migrations-get.ts';
import { registerV1MigrationsList } from './v1-migrations-list.ts';
import { registerV1OperationsGet } from './v1-operations-get.ts';
import { registerV1OperationsList } from './v1-operations-list.ts';
import { registerV1UsersCreate } from './v1-users-create.ts';
import { registerV1UsersDelete } from './v1-users-delete.ts';
import { registerV1UsersDisable } from './v1-users-disable.ts';
import { registerV1UsersEnable } from './v1-users-enable.ts';
import { registerV1UsersGet } from './v1-users-get.ts';
import { registerV1UsersList } from './v1-users-list.ts';
import { registerV1UsersPassword } from './v1-users-password.ts';
import { registerV1UsersUpdate } from './v1-users-update.ts';
import { registerV1VmsAction } from './v1-vms-action.ts';
import { registerV1VmsGet } from './v1-vms-get.ts';
import { registerV1VmsList, v1VmsListFast } from './v1-vms-list.ts';
import { registerV1VmsMetrics } from './v1-vms-metrics.ts';
import { registerV1VmsMigrate } from './v1-vms-migrate.ts';

/**
 * Every route of the API, one file each (`v1-users-disable.ts` → `registerV1UsersDisable`). A new
 * route is one line here; the role × route matrix test fails until it says who may call it.
 */
const ROUTES: ReadonlyArray<(app: OpenAPIHono<AppEnv>) => void> = [
  registerHealth,
  registerV1AuthLogin,
  registerV1AuthRefresh,
  registerV1AuthLogout,
  registerV1HostsList,
  registerV1HostsJoinTokensCreate,
  registerV1HostsGet,
  registerV1HostsDelete,
  registerV1HostsMetrics,
  registerV1VmsList,
  registerV1VmsGet,
  registerV1VmsAction,
  registerV1VmsMetrics,
  registerV1VmsMigrate,
  registerV1MigrationsList,
  registerV1MigrationsGet,
  registerV1MigrationsCancel,
  registerV1MigrationsForceComplete,
  registerV1OperationsList,
  registerV1OperationsGet,
  registerV1MeGet,
  registerV1UsersList,
  registerV1UsersCreate,
  registerV1UsersGet,
  registerV1UsersUpdate,
  registerV1UsersPassword,
  registerV1UsersDisable,
  registerV1UsersEnable,
  registerV1UsersDelete,
  registerV1AuditList,
];

export function registerRoutes(app: OpenAPIHono<AppEnv>): void {
  for (const register of ROUTES) register(app);
}

/**
 * The routes whose happy path also has a fast lane (src/http/fast-lane.ts): hot reads that dashboards
 * poll, each defined and tested beside its route.
 */
export const FAST_ROUTES: readonly FastRoute[] = [v1VmsListFast];
