/*-------------------------------------------------------------------------
 * checksum.cpp
 *	  The canonical row hash and the order-independent checksum of
 *	  docs/verification.md, as SQL functions:
 *
 *	    mosta.canonical_text(anyelement) → text
 *	    mosta.canonical_row_hash(record) → text         (32 hex digits)
 *	    aggregate mosta.canonical_checksum(record) → text (64 hex digits)
 *	      transition mosta._checksum_transition(bytea, record),
 *	      combine mosta._checksum_combine(bytea, bytea),
 *	      final mosta._checksum_final(bytea)
 *
 *	  mosta_checksum, mosta.row_hashes and mosta_sum_by (sql/parts/50_verify.sql)
 *	  are written over these.
 *
 * Regime: PG. No C++ object lives here: the encoding is built in a
 * StringInfo with the output plugin's type encoder (type_encoding.hpp), and
 * the only C++ called is mosta::canonical_row, whose functions used here are
 * noexcept and allocate nothing, so nothing can throw into PostgreSQL.
 *
 * The aggregate's state is a fixed 40-byte bytea (row count, sum and xor of
 * the row hashes, see ChecksumState), not an internal pointer: the combine
 * function then needs no serialization and parallel aggregation is safe.
 *-------------------------------------------------------------------------
 */
#include "mosta/common/canonical_row.hpp"

#include <cstring>

#include "mostajs/decoding/type_encoding.hpp"

extern "C" {
#include "postgres.h"
#include "access/htup_details.h" /* heap_deform_tuple, HeapTupleHeaderGet* */
#include "fmgr.h"				 /* AggCheckCallContext, get_fn_expr_argtype */
#include "utils/builtins.h"		 /* cstring_to_text_with_len */
#include "utils/typcache.h"		 /* lookup_rowtype_tupdesc */

PG_FUNCTION_INFO_V1(mostajs_canonical_text);
PG_FUNCTION_INFO_V1(mostajs_canonical_row_hash);
PG_FUNCTION_INFO_V1(mostajs_checksum_transition);
PG_FUNCTION_INFO_V1(mostajs_checksum_combine);
PG_FUNCTION_INFO_V1(mostajs_checksum_final);
}

namespace mostajs {

namespace {

/* The aggregate state's payload: mosta::ChecksumState, copied in and out as plain bytes. */
constexpr size_t kStateSize = sizeof(mosta::ChecksumState);
static_assert(kStateSize == 40, "ChecksumState is a count and two 128-bit values");

/* RowCodec is how rows of one composite type are encoded, built once per call site. */
struct RowCodec {
	Oid type_id;
	int32 typmod;
	int natts;	  /* attributes of the tuple descriptor, dropped ones included */
	int ncolumns; /* live columns, in order[] */
	int *order;	  /* attribute indexes, sorted by name bytewise */
	const char **names;
	TypeEncoding **encodings;
	TupleDesc desc; /* a copy, in the codec's context */
};

/* ValueEncoding is how values of one type are written (mosta.canonical_text's cache). */
struct ValueEncoding {
	Oid type_id;
	TypeEncoding *encoding;
};

/*
 * kCanonicalFormatVersion is the format version whose value encoding the
 * canonical text is: version 2, where a json or jsonb value is a string of
 * its exact text, so its canonical text is that text and a JSON null
 * ("null") differs from SQL NULL.
 */
constexpr int kCanonicalFormatVersion = 2;

/*
 * AppendCanonicalValue writes a value's canonical text: what the output
 * plugin writes for it, a JSON string being replaced by its content (an
 * array's JSON text is kept as written).
 */
void
AppendCanonicalValue(StringInfo out, Datum value, const TypeEncoding *encoding) {
	int start = out->len;
	AppendValueJson(out, value, encoding, kCanonicalFormatVersion);
	if (encoding->kind == ValueKind::Array || out->len == start || out->data[start] != '"')
		return;
	size_t size = static_cast<size_t>(out->len - start);
	if (!mosta::JsonUnquoteInPlace(out->data + start, &size))
		elog(ERROR, "the type encoder wrote a malformed JSON string");
	out->len = start + static_cast<int>(size);
	out->data[out->len] = '\0';
}

/* AppendLength writes a u32 big-endian length. */
void
AppendLength(StringInfo out, uint32 length) {
	unsigned char bytes[4];
	mosta::EncodeLength(length, bytes);
	appendBinaryStringInfo(out, reinterpret_cast<const char *>(bytes), 4);
}

/* CompareNames orders attribute indexes by name, bytewise (qsort_arg comparator). */
int
CompareNames(const void *a, const void *b, void *arg) {
	const char *const *names = static_cast<const char *const *>(arg);
	return strcmp(names[*static_cast<const int *>(a)], names[*static_cast<const int *>(b)]);
}

/* BuildRowCodec resolves the columns of a composite type, in name order, allocating in context. */
RowCodec *
BuildRowCodec(Oid type_id, int32 typmod, MemoryContext context) {
	MemoryContext old_context = MemoryContextSwitchTo(context);
	TupleDesc desc = lookup_rowtype_tupdesc(type_id, typmod);
	RowCodec *codec = static_cast<RowCodec *>(palloc0(sizeof(RowCodec)));
	codec->type_id = type_id;
	codec->typmod = typmod;
	codec->desc = CreateTupleDescCopy(desc);
	ReleaseTupleDesc(desc);
	codec->natts = codec->desc->natts;
	codec->order = static_cast<int *>(palloc(sizeof(int) * (codec->natts + 1)));
	codec->names = static_cast<const char **>(palloc0(sizeof(char *) * (codec->natts + 1)));
	codec->encodings = static_cast<TypeEncoding **>(palloc0(sizeof(TypeEncoding *) * (codec->natts + 1)));
	for (int i = 0; i < codec->natts; i++) {
		Form_pg_attribute attribute = TupleDescAttr(codec->desc, i);
		if (attribute->attisdropped)
			continue;
		codec->names[i] = NameStr(attribute->attname);
		codec->encodings[i] = BuildTypeEncoding(attribute->atttypid, context);
		codec->order[codec->ncolumns++] = i;
	}
	qsort_arg(codec->order, codec->ncolumns, sizeof(int), CompareNames, codec->names);
	MemoryContextSwitchTo(old_context);
	return codec;
}

/* CodecFor returns the codec of a row's type, cached in the call site's fn_extra. */
RowCodec *
CodecFor(FunctionCallInfo fcinfo, HeapTupleHeader row) {
	Oid type_id = HeapTupleHeaderGetTypeId(row);
	int32 typmod = HeapTupleHeaderGetTypMod(row);
	RowCodec *codec = static_cast<RowCodec *>(fcinfo->flinfo->fn_extra);
	if (codec == nullptr || codec->type_id != type_id || codec->typmod != typmod) {
		codec = BuildRowCodec(type_id, typmod, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = codec;
	}
	return codec;
}

/* RowHash encodes a row canonically and returns its hash. */
mosta::Hash128
RowHash(FunctionCallInfo fcinfo, HeapTupleHeader row) {
	RowCodec *codec = CodecFor(fcinfo, row);
	HeapTupleData tuple;
	tuple.t_len = HeapTupleHeaderGetDatumLength(row);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = row;
	Datum *values = static_cast<Datum *>(palloc(sizeof(Datum) * (codec->natts + 1)));
	bool *nulls = static_cast<bool *>(palloc(sizeof(bool) * (codec->natts + 1)));
	heap_deform_tuple(&tuple, codec->desc, values, nulls);
	StringInfoData encoded;
	initStringInfo(&encoded);
	for (int k = 0; k < codec->ncolumns; k++) {
		int i = codec->order[k];
		size_t name_length = strlen(codec->names[i]);
		AppendLength(&encoded, static_cast<uint32>(name_length));
		appendBinaryStringInfo(&encoded, codec->names[i], static_cast<int>(name_length));
		if (nulls[i]) {
			appendStringInfoChar(&encoded, 'N');
			continue;
		}
		appendStringInfoChar(&encoded, 'V');
		int length_at = encoded.len;
		AppendLength(&encoded, 0);
		AppendCanonicalValue(&encoded, values[i], codec->encodings[i]);
		unsigned char bytes[4];
		mosta::EncodeLength(static_cast<uint32>(encoded.len - length_at - 4), bytes);
		memcpy(encoded.data + length_at, bytes, 4);
	}
	mosta::Hash128 hash = mosta::CanonicalRowHash(encoded.data, static_cast<size_t>(encoded.len));
	pfree(encoded.data);
	pfree(values);
	pfree(nulls);
	return hash;
}

/* NewState returns a zeroed state allocated in context. */
bytea *
NewState(MemoryContext context) {
	bytea *state = static_cast<bytea *>(MemoryContextAllocZero(context, VARHDRSZ + kStateSize));
	SET_VARSIZE(state, VARHDRSZ + kStateSize);
	return state;
}

/* ReadState copies a state's payload out. */
mosta::ChecksumState
ReadState(const bytea *state) {
	if (VARSIZE_ANY_EXHDR(state) != kStateSize)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("invalid checksum state")));
	mosta::ChecksumState payload;
	memcpy(static_cast<void *>(&payload), VARDATA_ANY(state), kStateSize);
	return payload;
}

/* WriteState copies payload into state. */
void
WriteState(bytea *state, const mosta::ChecksumState &payload) {
	memcpy(VARDATA(state), static_cast<const void *>(&payload), kStateSize);
}

/* AggregateContext returns the aggregate's context, or raises when not called as an aggregate. */
MemoryContext
AggregateContext(FunctionCallInfo fcinfo) {
	MemoryContext context;
	if (!AggCheckCallContext(fcinfo, &context))
		ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						errmsg("mosta.canonical_checksum support functions run only inside the aggregate")));
	return context;
}

} // namespace

} // namespace mostajs

/* mostajs_canonical_text is mosta.canonical_text(anyelement) → text, STRICT. */
extern "C" Datum
mostajs_canonical_text(PG_FUNCTION_ARGS) {
	Oid type_id = get_fn_expr_argtype(fcinfo->flinfo, 0);
	if (!OidIsValid(type_id))
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("could not determine the argument's type")));
	auto *cached = static_cast<mostajs::ValueEncoding *>(fcinfo->flinfo->fn_extra);
	if (cached == nullptr || cached->type_id != type_id) {
		cached = static_cast<mostajs::ValueEncoding *>(
			MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(mostajs::ValueEncoding)));
		cached->type_id = type_id;
		cached->encoding = mostajs::BuildTypeEncoding(type_id, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cached;
	}
	StringInfoData canonical;
	initStringInfo(&canonical);
	mostajs::AppendCanonicalValue(&canonical, PG_GETARG_DATUM(0), cached->encoding);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(canonical.data, canonical.len));
}

/* mostajs_canonical_row_hash is mosta.canonical_row_hash(record) → text, STRICT. */
extern "C" Datum
mostajs_canonical_row_hash(PG_FUNCTION_ARGS) {
	mosta::Hash128 hash = mostajs::RowHash(fcinfo, PG_GETARG_HEAPTUPLEHEADER(0));
	char hex[mosta::kHash128HexSize + 1];
	mosta::FormatHash128(hash, hex);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(hex, mosta::kHash128HexSize));
}

/* mostajs_checksum_transition adds one row to the state, in place (it lives in the aggregate's context). */
extern "C" Datum
mostajs_checksum_transition(PG_FUNCTION_ARGS) {
	MemoryContext context = mostajs::AggregateContext(fcinfo);
	bytea *state = PG_ARGISNULL(0) ? mostajs::NewState(context) : PG_GETARG_BYTEA_P(0);
	if (PG_ARGISNULL(1))
		PG_RETURN_BYTEA_P(state); /* like other aggregates, a NULL input is skipped */
	mosta::ChecksumState payload = mostajs::ReadState(state);
	payload.Add(mostajs::RowHash(fcinfo, PG_GETARG_HEAPTUPLEHEADER(1)));
	mostajs::WriteState(state, payload);
	PG_RETURN_BYTEA_P(state);
}

/* mostajs_checksum_combine merges two partial states (parallel aggregation). */
extern "C" Datum
mostajs_checksum_combine(PG_FUNCTION_ARGS) {
	MemoryContext context = mostajs::AggregateContext(fcinfo);
	if (PG_ARGISNULL(1)) {
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_BYTEA_P(PG_GETARG_BYTEA_P(0));
	}
	mosta::ChecksumState other = mostajs::ReadState(PG_GETARG_BYTEA_P(1));
	bytea *state = PG_ARGISNULL(0) ? mostajs::NewState(context) : PG_GETARG_BYTEA_P(0);
	mosta::ChecksumState payload = mostajs::ReadState(state);
	payload.Merge(other);
	mostajs::WriteState(state, payload);
	PG_RETURN_BYTEA_P(state);
}

/* mostajs_checksum_final renders the state as 64 hex digits; no row gives the zero checksum. */
extern "C" Datum
mostajs_checksum_final(PG_FUNCTION_ARGS) {
	mosta::ChecksumState payload;
	if (!PG_ARGISNULL(0))
		payload = mostajs::ReadState(PG_GETARG_BYTEA_P(0));
	char hex[mosta::kChecksumHexSize + 1];
	payload.Format(hex);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(hex, mosta::kChecksumHexSize));
}
