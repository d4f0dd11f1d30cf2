'use strict';
// bench/workload/pg-app.js for the bench/ab tools (APP=pg, see ab-app.mjs): exits on SIGUSR2 so that
// --cpu-prof writes its profile, as the other ab apps do.
process.on('SIGUSR2', () => process.exit(0));
require('../workload/pg-app.js');
