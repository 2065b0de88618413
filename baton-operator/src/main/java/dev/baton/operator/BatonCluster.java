package dev.baton.operator;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.model.annotation.Group;
import io.fabric8.kubernetes.model.annotation.Kind;
import io.fabric8.kubernetes.model.annotation.Plural;
import io.fabric8.kubernetes.model.annotation.ShortNames;
import io.fabric8.kubernetes.model.annotation.Version;

/**
 * The {@code BatonCluster} custom resource. Its {@code spec} stays a JSON tree: the control plane's
 * {@code SpecParser} validates it (via {@link ClusterDefinition}) exactly as {@code baton up} does,
 * and a spec it refuses still reaches the reconciler, which reports why in a status condition.
 */
@Group(BatonCluster.GROUP)
@Version(BatonCluster.VERSION)
@Kind("BatonCluster")
@Plural(BatonCluster.PLURAL)
@ShortNames("bc")
public class BatonCluster extends CustomResource<JsonNode, BatonClusterStatus>
    implements Namespaced {

  public static final String GROUP = "baton.dev";
  public static final String VERSION = "v1alpha1";
  public static final String PLURAL = "batonclusters";

  @Override
  protected JsonNode initSpec() {
    return null;
  }

  @Override
  protected BatonClusterStatus initStatus() {
    return null;
  }
}
