/*-------------------------------------------------------------------------
 * uri_functions.cpp
 *	  mosta.mask_uri(), mosta.mask_text() and mosta.check_uri(): replica
 *	  URIs and texts that may quote them, masked and validated by the rules
 *	  shared with the sidecar (mosta_common).
 *
 * Regime: the extern "C" entries are PG regime and only call InvokeCpp;
 * the *Impl functions are C++ regime.
 *-------------------------------------------------------------------------
 */
#include <optional>
#include <string>

#include "mosta/common/conninfo.hpp"
#include "mostajs/invoke_cpp.hpp"
#include "mostajs/pg/text.hpp"

extern "C" {
#include "postgres.h"
#include "fmgr.h"

PG_FUNCTION_INFO_V1(mostajs_mask_uri);
PG_FUNCTION_INFO_V1(mostajs_mask_text);
PG_FUNCTION_INFO_V1(mostajs_check_uri);
}

namespace mostajs {

namespace {

/* RequireTextArg returns argument n, or throws 22004 naming it when NULL. */
std::string
RequireTextArg(FunctionCallInfo fcinfo, int n, const char *name) {
	if (pg::ArgIsNull(fcinfo, n))
		throw PgError(sqlstate::kNullValueNotAllowed, std::string("argument \"") + name + "\" must not be null");
	return pg::TextArg(fcinfo, n);
}

/* MaskUriImpl returns the URI with every password replaced by ***. */
Datum
MaskUriImpl(FunctionCallInfo fcinfo) {
	return pg::TextDatum(mosta::MaskCredentials(pg::TextArg(fcinfo, 0)));
}

/* MaskTextImpl returns free text with the credentials of every URI and secret key=value in it masked. */
Datum
MaskTextImpl(FunctionCallInfo fcinfo) {
	return pg::TextDatum(mosta::MaskCredentialsInText(pg::TextArg(fcinfo, 0)));
}

/* CheckUriImpl raises 22023, with the accepted forms as hint, when the URI does not fit the dialect. */
Datum
CheckUriImpl(FunctionCallInfo fcinfo) {
	std::string dialect_name = RequireTextArg(fcinfo, 0, "dialect");
	std::string uri = RequireTextArg(fcinfo, 1, "uri");
	std::optional<mosta::Dialect> dialect = mosta::ParseDialect(dialect_name);
	if (!dialect)
		throw PgError(sqlstate::kInvalidParameterValue, "invalid dialect \"" + dialect_name + "\"", "",
		              "Valid dialects are: " + std::string(mosta::ValidDialectNames()) + ".");
	if (std::optional<mosta::UriProblem> problem = mosta::CheckUri(*dialect, uri))
		throw PgError(sqlstate::kInvalidParameterValue, problem->message, "", problem->hint);
	PG_RETURN_VOID();
}

} // namespace

} // namespace mostajs

/* mostajs_mask_uri is mosta.mask_uri(uri text) → text. */
extern "C" Datum
mostajs_mask_uri(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::MaskUriImpl>(fcinfo);
}

/* mostajs_mask_text is mosta.mask_text(text text) → text. */
extern "C" Datum
mostajs_mask_text(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::MaskTextImpl>(fcinfo);
}

/* mostajs_check_uri is mosta.check_uri(dialect text, uri text) → void. */
extern "C" Datum
mostajs_check_uri(PG_FUNCTION_ARGS) {
	return mostajs::InvokeCpp<mostajs::CheckUriImpl>(fcinfo);
}
