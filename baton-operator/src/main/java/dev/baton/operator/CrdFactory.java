package dev.baton.operator;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder;

/**
 * The {@code BatonCluster} CRD: the spec schema from {@link SpecSchema}, a status subresource, and
 * a scale subresource on {@code spec.replicas} so {@code kubectl scale}, HPA and KEDA scale the
 * decode pool (or the group count in replica mode).
 */
public final class CrdFactory {

  private CrdFactory() {}

  public static CustomResourceDefinition crd() {
    JSONSchemaProps integer = new JSONSchemaPropsBuilder().withType("integer").build();
    JSONSchemaProps text = new JSONSchemaPropsBuilder().withType("string").build();
    JSONSchemaProps counts =
        new JSONSchemaPropsBuilder()
            .withType("object")
            .withNewAdditionalProperties()
            .withSchema(integer)
            .endAdditionalProperties()
            .build();
    JSONSchemaProps condition =
        new JSONSchemaPropsBuilder()
            .withType("object")
            .addToProperties("type", text)
            .addToProperties("status", text)
            .addToProperties("reason", text)
            .addToProperties("message", text)
            .addToProperties("lastTransitionTime", text)
            .addToProperties("observedGeneration", integer)
            .withRequired("type", "status")
            .build();
    JSONSchemaProps status =
        new JSONSchemaPropsBuilder()
            .withType("object")
            .addToProperties("phase", text)
            .addToProperties("observedGeneration", integer)
            .addToProperties("replicas", integer)
            .addToProperties("selector", text)
            .addToProperties("gatewayUrl", text)
            .addToProperties("readyWorkers", counts)
            .addToProperties("desiredWorkers", counts)
            .addToProperties("readyGroups", counts)
            .addToProperties(
                "conditions",
                new JSONSchemaPropsBuilder()
                    .withType("array")
                    .withNewItems()
                    .withSchema(condition)
                    .endItems()
                    .build())
            .build();
    JSONSchemaProps root =
        new JSONSchemaPropsBuilder()
            .withType("object")
            .addToProperties("spec", SpecSchema.spec())
            .addToProperties("status", status)
            .withRequired("spec")
            .build();
    return new CustomResourceDefinitionBuilder()
        .withNewMetadata()
        .withName(BatonCluster.PLURAL + "." + BatonCluster.GROUP)
        .endMetadata()
        .withNewSpec()
        .withGroup(BatonCluster.GROUP)
        .withScope("Namespaced")
        .withNewNames()
        .withKind("BatonCluster")
        .withListKind("BatonClusterList")
        .withPlural(BatonCluster.PLURAL)
        .withSingular("batoncluster")
        .withShortNames("bc")
        .endNames()
        .addNewVersion()
        .withName(BatonCluster.VERSION)
        .withServed(true)
        .withStorage(true)
        .withNewSchema()
        .withOpenAPIV3Schema(root)
        .endSchema()
        .withNewSubresources()
        .withNewStatus()
        .endStatus()
        .withNewScale()
        .withSpecReplicasPath(".spec.replicas")
        .withStatusReplicasPath(".status.replicas")
        .withLabelSelectorPath(".status.selector")
        .endScale()
        .endSubresources()
        .addNewAdditionalPrinterColumn()
        .withName("Mode")
        .withType("string")
        .withJsonPath(".spec.mode")
        .endAdditionalPrinterColumn()
        .addNewAdditionalPrinterColumn()
        .withName("Replicas")
        .withType("integer")
        .withJsonPath(".status.replicas")
        .endAdditionalPrinterColumn()
        .addNewAdditionalPrinterColumn()
        .withName("Phase")
        .withType("string")
        .withJsonPath(".status.phase")
        .endAdditionalPrinterColumn()
        .addNewAdditionalPrinterColumn()
        .withName("Gateway")
        .withType("string")
        .withJsonPath(".status.gatewayUrl")
        .endAdditionalPrinterColumn()
        .endVersion()
        .endSpec()
        .build();
  }
}
