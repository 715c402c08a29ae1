#!/bin/sh
# Registers the namespace and the invoice search attributes once the server is up; a no-op when they exist.
set -eu

NAMESPACE=${TEMPORAL_NAMESPACE:-payments}
temporal operator namespace describe -n "$NAMESPACE" >/dev/null 2>&1 || temporal operator namespace create -n "$NAMESPACE"

# The search attributes the workflow upserts (src/domain/constants.ts SEARCH_ATTRIBUTES). A namespace just created can
# take a few seconds to reach every service, so a refused create is retried rather than ignored.
for sa in InvoiceStatus=Keyword PaymentProvider=Keyword InvoiceDirection=Keyword InvoiceAmount=Int \
  InvoiceCurrency=Keyword CustomerId=Keyword TenantId=Keyword ProviderReferences=KeywordList CompensationFailed=Bool \
  ReconciliationDifferences=Int; do
  name=${sa%%=*}
  type=${sa#*=}
  tries=0
  until temporal operator search-attribute list -n "$NAMESPACE" | grep -qw "$name"; do
    if ! temporal operator search-attribute create -n "$NAMESPACE" --name "$name" --type "$type"; then
      tries=$((tries + 1))
      [ "$tries" -lt 20 ] || exit 1
      sleep 3
    fi
  done
done
