#!/usr/bin/env node
/**
 * Runs after `npm ci` / `npm install` (the root package.json's postinstall, after the build): says
 * plainly when gpu.js's optional `gl` module is unavailable, which lesson 08 then cannot use, and
 * which Debian packages bring it. Never fails the install: the course works without headlessgl.
 */
import { warn } from "./cli";
import { GL_MISSING_MESSAGE, glModuleLoads } from "./course";

if (!glModuleLoads()) warn(GL_MISSING_MESSAGE);
