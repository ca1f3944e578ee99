import type { OpenAPIHono } from '@hono/zod-openapi';
import { auditMutations } from '../audit/audit-middleware.ts';
import type { AppEnv } from '../http/app-env.ts';
import { registerV1AuditList } from './v1-audit-list.ts';
import { registerV1AuthLogin } from './v1-auth-login.ts';
import { registerV1AuthLogout } from './v1-auth-logout.ts';
import { registerV1AuthRefresh } from './v1-auth-refresh.ts';
import { registerV1UsersCreate } from './v1-users-create.ts';
import { registerV1UsersDelete } from './v1-users-delete.ts';
import { registerV1UsersDisable } from './v1-users-disable.ts';
import { registerV1UsersEnable } from './v1-users-enable.ts';
import { registerV1UsersList } from './v1-users-list.ts';
import { registerV1UsersPassword } from './v1-users-password.ts';

/**
 * The audit middleware, then the auth, users and audit routes. Called first by registerRoutes:
 * Hono runs middleware in registration order, so routes registered after it are audited too.
 */
export function registerAuthRoutes(app: OpenAPIHono<AppEnv>): void {
  app.use('/api/v1/*', auditMutations());
  registerV1AuthLogin(app);
  registerV1AuthRefresh(app);
  registerV1AuthLogout(app);
  registerV1UsersCreate(app);
  registerV1UsersList(app);
  registerV1UsersPassword(app);
  registerV1UsersDisable(app);
  registerV1UsersEnable(app);
  registerV1UsersDelete(app);
  registerV1AuditList(app);
}
