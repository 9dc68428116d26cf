import { router } from './trpc';
import { authRouter } from './routers/auth';
import { accountRouter } from './routers/account';
import { vmRouter } from './routers/vm';
import { shareRouter } from './routers/share';
import { adminRouter } from './routers/admin';
import { auditRouter } from './routers/audit';
import { imagesRouter } from './routers/images';
import { hostsRouter } from './routers/hosts';
import { consoleRouter } from './routers/console';

export const appRouter = router({
  auth: authRouter,
  account: accountRouter,
  vm: vmRouter,
  share: shareRouter,
  admin: adminRouter,
  audit: auditRouter,
  images: imagesRouter,
  hosts: hostsRouter,
  console: consoleRouter,
});

export type AppRouter = typeof appRouter;
