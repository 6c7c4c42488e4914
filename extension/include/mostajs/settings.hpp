/*-------------------------------------------------------------------------
 * settings.hpp
 *	  The extension's GUC variables, defined in mostajs.cpp.
 *-------------------------------------------------------------------------
 */
#pragma once

namespace mostajs {

/* mostajs.status_max_age, in milliseconds. */
extern int status_max_age_ms;

} // namespace mostajs
