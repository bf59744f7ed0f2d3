// xlperf desk: small behaviours that need no build step. Served from the package (CSP 'self').
"use strict";
