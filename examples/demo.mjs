#!/usr/bin/env node
// `npm run demo` (after `npm run build`): the complete agent lifecycle of spec §7.4 across the four
// products, printed as a timeline. The program is examples/flow-7.4-full-lifecycle.mjs; read it
// there, top to bottom. The other flows and a tour of the platform are listed in examples/README.md.
import './flow-7.4-full-lifecycle.mjs';
