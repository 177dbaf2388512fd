import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.io.StringWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;

import org.apache.spark.SecurityManager;
import org.apache.spark.SparkConf;
import org.apache.spark.deploy.k8s.KubernetesConf$;
import org.apache.spark.deploy.k8s.KubernetesExecutorConf;
import org.apache.spark.deploy.k8s.KubernetesExecutorSpec;
import org.apache.spark.deploy.k8s.KubernetesUtils$;
import org.apache.spark.deploy.k8s.submit.KubernetesClientUtils$;
import org.apache.spark.deploy.k8s.SparkPod;
import org.apache.spark.resource.ResourceProfile;
import org.apache.spark.resource.ResourceProfile$;
import org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBuilder;

import scala.Option;
import scala.Tuple2;

/**
 * Builds executor pods with Spark's own code, as a Spark driver in a sparkfleet driver pod would.
 *
 * Usage: ExecutorPodProbe CASES_FILE, where CASES_FILE lists one case directory a line. A case
 * directory holds what a driver has:
 *
 *   driver-pod.json      the driver pod as the API server returns it (with metadata.uid and status.podIP)
 *   files/...            the driver's own files at their absolute paths under files/ (what its
 *                        ConfigMap volumes put there: /opt/spark/conf/spark.properties, the
 *                        executor pod template, ...)
 *   executor-ids         optional: the executor ids to build, one a line (default 1)
 *
 * For each case the probe writes result.json into the case directory: {"executors": [{"id",
 * "pod", "resources"}], "configMap": ...} with the pods exactly as ExecutorPodsAllocator would
 * create them and the executor ConfigMap as KubernetesClusterSchedulerBackend creates it, or
 * {"error": {"class", "message", "causes"}} with what the builder threw. The exit status is 0
 * when every case built, 1 when Spark refused some (each result says why), 2 when the probe itself
 * could not run.
 *
 * The driver's SparkConf is what SparkSubmit and SparkContext make of the properties file in the
 * driver container: spark.* keys of the file (values trimmed), then the --conf pairs the image's
 * entrypoint adds (spark.driver.bindAddress and spark.executorEnv.SPARK_DRIVER_POD_IP, both the
 * pod IP), spark.submit.deployMode=client and spark.executor.id=driver. The driver's environment
 * (SPARK_LOCAL_DIRS, SPARK_CONF_DIR, ...) is its container's env as the pod spec gives it; paths
 * Spark reads (the pod template, SPARK_CONF_DIR) are looked up under files/. SPARK_USER is the one
 * value Spark reads from the process environment itself: the probe refuses a case whose driver
 * has another SPARK_USER than this JVM (run one JVM per user).
 */
public final class ExecutorPodProbe {
  private static final String DRIVER_CONTAINER = "spark-kubernetes-driver";
  private static final String TEMPLATE_FILE_KEY = "spark.kubernetes.executor.podTemplateFile";

  /** The SparkConf of a driver whose environment is its pod's, not this JVM's. */
  static final class DriverConf extends SparkConf {
    private final Map<String, String> env;

    DriverConf(Map<String, String> env) {
      super(false);
      this.env = env;
    }

    @Override
    public String getenv(String name) {
      return env.get(name);
    }

    @Override
    public SparkConf clone() {
      DriverConf copy = new DriverConf(env);
      for (Tuple2<String, String> entry : getAll()) {
        copy.set(entry._1(), entry._2(), true);
      }
      return copy;
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: ExecutorPodProbe CASES_FILE");
      System.exit(2);
    }
    List<String> cases = new ArrayList<>();
    for (String line : Files.readAllLines(Paths.get(args[0]), StandardCharsets.UTF_8)) {
      if (!line.isBlank()) {
        cases.add(line.trim());
      }
    }
    Config config = new io.fabric8.kubernetes.client.ConfigBuilder(Config.empty())
        .withMasterUrl("https://127.0.0.1:1") // never called: the builder only parses the template
        .build();
    int refused = 0;
    try (KubernetesClient client = new KubernetesClientBuilder().withConfig(config).build()) {
      for (String dir : cases) {
        Map<String, Object> result = probe(Paths.get(dir), client);
        if (result.containsKey("error")) {
          refused++;
        }
        Files.writeString(Paths.get(dir, "result.json"), Serialization.asJson(result), StandardCharsets.UTF_8);
      }
    } catch (Exception e) { // the probe's own failure (a case it cannot read), not Spark's refusal
      e.printStackTrace();
      System.exit(2);
    }
    System.err.println("ExecutorPodProbe: " + cases.size() + " cases, " + refused + " refused by Spark");
    System.exit(refused == 0 ? 0 : 1);
  }

  static Map<String, Object> probe(Path dir, KubernetesClient client) throws Exception {
    Pod driverPod;
    try (InputStream in = new FileInputStream(dir.resolve("driver-pod.json").toFile())) {
      driverPod = Serialization.unmarshal(in, Pod.class);
    }
    Path files = dir.resolve("files");
    Map<String, String> env = driverEnv(driverPod, files);
    String user = env.get("SPARK_USER");
    if (user != null && !user.equals(System.getenv("SPARK_USER"))) {
      throw new IllegalStateException(dir + ": the driver's SPARK_USER is " + user
          + " but this JVM's is " + System.getenv("SPARK_USER") + ": run it with that SPARK_USER");
    }
    List<String> ids = new ArrayList<>();
    Path idsFile = dir.resolve("executor-ids");
    if (Files.exists(idsFile)) {
      for (String line : Files.readAllLines(idsFile)) {
        if (!line.isBlank()) {
          ids.add(line.trim());
        }
      }
    } else {
      ids.add("1");
    }
    Map<String, Object> result = new LinkedHashMap<>();
    try {
      SparkConf conf = driverConf(env, driverPod, files);
      ResourceProfile profile = ResourceProfile$.MODULE$.reInitDefaultProfile(conf);
      SecurityManager secMgr = new SecurityManager(
          conf, Option.empty(), org.apache.spark.internal.config.package$.MODULE$.AUTH_SECRET_FILE());
      secMgr.initializeAuth();
      String appId = conf.get("spark.app.id");
      List<Object> executors = new ArrayList<>();
      for (String id : ids) {
        KubernetesExecutorConf executorConf = KubernetesConf$.MODULE$.createExecutorConf(
            conf, id, appId, Option.apply(driverPod), profile.id());
        KubernetesExecutorSpec spec =
            new KubernetesExecutorBuilder().buildFromFeatures(executorConf, secMgr, client, profile);
        SparkPod sparkPod = spec.pod();
        // What ExecutorPodsAllocator.requestNewExecutors creates: the Spark container last.
        Pod pod = new PodBuilder(sparkPod.pod())
            .editOrNewSpec().addToContainers(sparkPod.container()).endSpec()
            .build();
        List<Object> resources = new ArrayList<>();
        scala.collection.Iterator<HasMetadata> it = spec.executorKubernetesResources().iterator();
        while (it.hasNext()) {
          resources.add(it.next());
        }
        Map<String, Object> executor = new LinkedHashMap<>();
        executor.put("id", id);
        executor.put("pod", pod);
        executor.put("resources", resources);
        executors.add(executor);
      }
      result.put("executors", executors);
      result.put("configMap", executorConfigMap(conf, appId, driverPod));
    } catch (Exception e) {
      result.put("error", describe(e));
    }
    return result;
  }

  /** The driver container's environment, as the kubelet would set it (fieldRefs resolved). */
  static Map<String, String> driverEnv(Pod driverPod, Path files) {
    Map<String, String> env = new HashMap<>();
    List<Container> containers = driverPod.getSpec().getContainers();
    Container driver = containers.stream()
        .filter(c -> DRIVER_CONTAINER.equals(c.getName()))
        .findFirst()
        .orElse(containers.get(0));
    for (EnvVar var : driver.getEnv()) {
      if (var.getValue() != null) {
        env.put(var.getName(), var.getValue());
      } else if (var.getValueFrom() != null && var.getValueFrom().getFieldRef() != null) {
        String path = var.getValueFrom().getFieldRef().getFieldPath();
        String value = switch (path) {
          case "status.podIP" -> driverPod.getStatus().getPodIP();
          case "metadata.name" -> driverPod.getMetadata().getName();
          case "metadata.namespace" -> driverPod.getMetadata().getNamespace();
          default -> null;
        };
        if (value != null) {
          env.put(var.getName(), value);
        }
      }
    }
    String confDir = env.get("SPARK_CONF_DIR");
    if (confDir != null) {
      env.put("SPARK_CONF_DIR", files.resolve(confDir.replaceFirst("^/+", "")).toString());
    }
    return env;
  }

  static SparkConf driverConf(Map<String, String> env, Pod driverPod, Path files) throws Exception {
    Path propertiesFile = Paths.get(files.toString(), "opt/spark/conf/spark.properties");
    List<String> args = driverPod.getSpec().getContainers().stream()
        .filter(c -> DRIVER_CONTAINER.equals(c.getName()))
        .findFirst().map(Container::getArgs).orElse(List.of());
    int at = args.indexOf("--properties-file");
    if (at >= 0 && at + 1 < args.size()) {
      propertiesFile = files.resolve(args.get(at + 1).replaceFirst("^/+", ""));
    }
    Properties properties = new Properties();
    try (Reader reader = new InputStreamReader(new FileInputStream(propertiesFile.toFile()), StandardCharsets.UTF_8)) {
      properties.load(reader);
    }
    SparkConf conf = new DriverConf(env);
    for (String key : properties.stringPropertyNames()) {
      if (key.startsWith("spark.")) { // SparkSubmit ignores the rest, with a warning
        conf.set(key, properties.getProperty(key).trim());
      }
    }
    String podIp = driverPod.getStatus() != null ? driverPod.getStatus().getPodIP() : null;
    if (podIp != null) { // the image's entrypoint: --conf spark.driver.bindAddress=... and the executors' env
      conf.set("spark.driver.bindAddress", podIp);
      conf.set("spark.executorEnv.SPARK_DRIVER_POD_IP", podIp);
    }
    conf.set("spark.submit.deployMode", "client");
    conf.set("spark.executor.id", "driver");
    if (conf.contains(TEMPLATE_FILE_KEY)) {
      Path template = files.resolve(conf.get(TEMPLATE_FILE_KEY).replaceFirst("^/+", ""));
      if (Files.exists(template)) {
        conf.set(TEMPLATE_FILE_KEY, template.toString());
      }
    }
    return conf;
  }

  /** KubernetesClusterSchedulerBackend.setUpExecutorConfigMap: the executors' SPARK_CONF_DIR. */
  @SuppressWarnings({"unchecked", "rawtypes"})
  static ConfigMap executorConfigMap(SparkConf conf, String appId, Pod driverPod) {
    String name = KubernetesClientUtils$.MODULE$.configMapNameExecutor();
    scala.collection.immutable.Map resolved =
        scalaMap(Map.of("spark.kubernetes.namespace", conf.get("spark.kubernetes.namespace", "default")));
    scala.collection.immutable.Map files = (scala.collection.immutable.Map)
        KubernetesClientUtils$.MODULE$.buildSparkConfDirFilesMap(name, conf, resolved).concat(resolved);
    scala.collection.immutable.Map labels =
        scalaMap(Map.of("spark-app-selector", appId, "spark-role", "executor"));
    ConfigMap configMap = KubernetesClientUtils$.MODULE$.buildConfigMap(name, files, labels);
    KubernetesUtils$.MODULE$.addOwnerReference(
        driverPod, scala.jdk.javaapi.CollectionConverters.asScala(List.<HasMetadata>of(configMap)).toList());
    return configMap;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static scala.collection.immutable.Map scalaMap(Map<String, String> map) {
    return scala.collection.immutable.Map$.MODULE$.from(scala.jdk.javaapi.CollectionConverters.asScala(map));
  }

  static Map<String, Object> describe(Throwable e) {
    Map<String, Object> error = new LinkedHashMap<>();
    error.put("class", e.getClass().getName());
    error.put("message", e.getMessage());
    List<Map<String, String>> causes = new ArrayList<>();
    for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause(); cause = cause.getCause()) {
      Map<String, String> c = new LinkedHashMap<>();
      c.put("class", cause.getClass().getName());
      c.put("message", cause.getMessage());
      causes.add(c);
    }
    error.put("causes", causes);
    StringWriter trace = new StringWriter();
    e.printStackTrace(new PrintWriter(trace));
    error.put("trace", trace.toString());
    return error;
  }

  private ExecutorPodProbe() {}
}
