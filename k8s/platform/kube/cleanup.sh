#!/usr/bin/env bash
# Remove BookInfo and the Istio / Gateway API routing objects from one namespace.
#
# The namespace comes from $NAMESPACE; when it is unset and the script runs in a terminal it asks
# (default "default"). A namespace that does not exist falls back to "default".
set -u

here=$(cd "$(dirname "$0")" && pwd)

if [ -z "${NAMESPACE:-}" ] && [ -t 0 ]; then
  read -r -p "Namespace to clean up [default]: " NAMESPACE
fi
NAMESPACE=${NAMESPACE:-default}
if ! kubectl get namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "Namespace $NAMESPACE not found; using default" >&2
  NAMESPACE=default
fi
echo "Cleaning up BookInfo in namespace $NAMESPACE"

# Istio routing and policy objects (all of them in the namespace, as the tasks create several).
for kind in destinationrules.networking.istio.io virtualservices.networking.istio.io \
            gateways.networking.istio.io authorizationpolicies.security.istio.io; do
  kubectl delete "$kind" --all -n "$NAMESPACE" --ignore-not-found
done

# Gateway API objects, only if the Gateway API is installed.
if kubectl get crd gateways.gateway.networking.k8s.io >/dev/null 2>&1; then
  kubectl delete httproutes.gateway.networking.k8s.io --all -n "$NAMESPACE" --ignore-not-found
  kubectl delete gateways.gateway.networking.k8s.io --all -n "$NAMESPACE" --ignore-not-found
  kubectl delete -n "$NAMESPACE" -f "$here/bookinfo-versions.yaml" --ignore-not-found
fi

kubectl delete -n "$NAMESPACE" -f "$here/bookinfo.yaml" --ignore-not-found

# Give the pods time to terminate before the namespace is reused.
sleep 30
echo "Application cleanup successful"
