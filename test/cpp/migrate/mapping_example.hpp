// mapping_example.hpp: spec16's example mapping (docs/migration-mapping.md), valid as written, for the tests of the
// mapping parser, load order and DDL.
#pragma once

namespace mosta::mapping::test {

inline constexpr const char *kExampleMapping = R"json({
  "name": "shop",
  "source": {"database": "shop"},
  "target": {"schema": "public"},
  "collections": [
    {
      "collection": "users",
      "table": "users",
      "id": {"policy": "objectid", "require_objectid": true, "column": "id", "legacy_column": "legacy_object_id"},
      "extra_column": "extra",
      "fields": [
        {"path": "email", "column": "email", "type": "text"},
        {"path": "profile.displayName", "column": "display_name", "type": "text"},
        {"path": "createdAt", "column": "created_at", "type": "timestamptz", "not_null": true, "bson": "date"},
        {"path": "referredBy", "column": "referred_by_id", "references": "users"},
        {"path": "points", "column": "points", "type": "bigint", "bson": "long"},
        {"path": "tags", "column": "tags", "type": "jsonb"}
      ],
      "indexes": [{"sparse_unique": ["email"]}, {"index": ["created_at"]}]
    },
    {
      "collection": "payments",
      "table": "payments",
      "id": {"policy": "objectid"},
      "fields": [
        {"path": "buyerId", "column": "buyer_id", "references": "users", "not_null": true},
        {"path": "purchaseRequestId", "polymorphic": "purchase_request", "references": "purchase_requests"},
        {"path": "amount.value", "column": "amount", "type": "numeric(38,18)", "not_null": true, "bson": "decimal"},
        {"path": "status", "column": "status", "type": "text", "not_null": true},
        {"path": "createdAt", "column": "created_at", "type": "timestamp with time zone"},
        {"path": "items", "child_table": {"table": "payment_items", "parent_column": "payment_id",
            "position_column": "position", "extra_column": "extra",
            "fields": [{"path": "sku", "column": "sku", "type": "text"}, {"path": "qty", "column": "qty", "type": "int"}]}},
        {"path": "offerIds", "child_table": {"table": "payment_offers",
            "fields": [{"path": "", "column": "offer_id", "references": "offers"}]}}
      ],
      "indexes": [{"partial_unique": ["buyer_id", "purchase_request_id"], "where": "status = 'pending'"},
                  {"ttl": "created_at", "after": "90 days"}],
      "sums": [{"column": "amount", "group_by": ["status"]}]
    },
    {"collection": "purchase_requests", "fields": [{"path": "buyerId", "column": "buyer_id", "references": "users"}]},
    {"collection": "offers", "id": {"policy": "time-ordered"},
     "fields": [{"path": "n", "column": "derivation_index", "type": "bigint"}, {"path": "chain", "column": "chain", "type": "text"},
                {"path": "buyerId", "column": "buyer_id", "references": "users"}]}
  ],
  "counters": [{"scope": "derivation", "collection": "offers", "key": ["buyer_id", "chain"], "value": "derivation_index"}]
}
)json";

} // namespace mosta::mapping::test
