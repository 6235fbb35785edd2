using Maskwork.Host.Cli;
using Maskwork.Host.Commands;

// The maskwork command line: one block per verb. A block declares the verb's options (typed, with a
// description and, where there is one, a default: `maskwork <verb> --help` shows them) and maps them
// onto the plain args record its command class takes; the verb's logic lives in Commands/<Name>.cs.
// Adding a verb: write Commands/<Name>Command.cs (a public sealed class, constructor-injected: it is
// registered by its name), then add a block here. Exit codes and error printing are CliApp's.
var cli = new CliApp("Masked-modeling self-supervised pretraining across modalities: images, graphs, point clouds and any modality a plugin brings.");

const string DataHelp = "<reader>:<path> (image-folder:/data/cats, parquet:/data/ds) or a built-in name (fashion-mnist)";
const string SetDataHelp = "a reader option, data.<name>=<value> (repeatable), e.g. data.size=32";
const string DistHelp = "data-parallel ranks: auto uses OpenMPI when started by mpirun (`mpirun -np N maskwork pretrain ...`; --batch is per rank), mpi forces it, none trains in this process alone";

cli.Verb("plugins", "List discovered plugins: id, version, status, why one did not load, its recipes.", v =>
    (_, ctx, _) => Task.FromResult(ctx.Get<InfoCommands>().Plugins(ctx.Output)));

cli.Verb("recipes", "List recipes with their defaults; name one to see each option's value and meaning.", v =>
{
    var name = v.Argument<string>("recipe", "a recipe to show in full, e.g. image/mae");
    return (p, ctx, _) => Task.FromResult(ctx.Get<InfoCommands>().Recipes(p.GetValue(name), ctx.Output));
});

cli.Verb("doctor", "Check the backend, device, native libraries, plugins and datasets.", v =>
    (_, ctx, _) => Task.FromResult(ctx.Get<InfoCommands>().Doctor(ctx.Output)));

cli.Verb("pretrain", "Pretrain an encoder the masked-autoencoder way; writes a run folder (checkpoints, metrics, loss.png, reconstructions.png).", v =>
{
    var recipe = v.Option("--recipe", "the recipe (see `maskwork recipes`)", "image/mae", "R");
    var data = v.Optional<string>("--data", $"training data: {DataHelp} (default: the recipe's)", "SPEC");
    var config = v.Optional<string>("--config", "a job file: {\"recipe\", \"data\", \"train\": {...}, \"model\": {...}}; flags and --set override it", "job.json");
    var steps = v.Optional<int?>("--steps", "stop after step N (default: the recipe's train.steps; the schedule spans the larger of the two)", "N");
    var batch = v.Optional<int?>("--batch", "samples per step (default: the recipe's train.batch)", "B");
    var device = v.Option("--device", "where to train; auto falls back to the CPU with a message", "cpu", null, "cpu", "cuda", "auto");
    var precision = v.Option("--precision", "bf16: bf16 matmuls with fp32 master weights, norms and loss", "fp32", null, "fp32", "bf16");
    var seed = v.Option("--seed", "seed of every random choice (batch order, masks, init)", 0L, "S");
    var outDir = v.Optional<string>("--out", "the run folder (default: <RunsRoot>/<recipe>-<time>)", "DIR");
    var sets = v.Repeated("--set", "override an option: train.<name>, model.<name>, data.<name>, seed, device or precision (repeatable); see `maskwork recipes R`", "k=v");
    var dist = v.Option("--dist", DistHelp, "auto", null, "auto", "mpi", "none");
    VerbBuilder.AtLeast(steps, 1);
    VerbBuilder.AtLeast(batch, 1);
    return (p, ctx, ct) => ctx.Get<TrainCommand>().PretrainAsync(new PretrainArgs
    {
        // Only what was given: a job file's recipe, device, precision and seed win over the defaults shown in help.
        Recipe = Given(p, recipe), Data = p.GetValue(data), Config = p.GetValue(config), Steps = p.GetValue(steps), Batch = p.GetValue(batch),
        Device = Given(p, device), Precision = Given(p, precision), Seed = p.GetResult(seed) is { Implicit: false } ? p.GetValue(seed) : null, Out = p.GetValue(outDir), Sets = p.GetValue(sets) ?? [],
        Dist = p.GetValue(dist)!,
    }, ctx.Output, ct);
});

cli.Verb("resume", "Continue a run from its newest loadable checkpoint; retraces an uninterrupted run exactly.", v =>
{
    var run = v.Required<string>("--run", "the run folder", "DIR");
    var steps = v.Optional<int?>("--steps", "train to step N (default: the run's train.steps)", "N");
    var dist = v.Option("--dist", DistHelp + "; resume with as many ranks as the run had", "auto", null, "auto", "mpi", "none");
    var force = v.Flag("--force-world-size", "continue a checkpoint written by another number of ranks (the global batch, learning rate and data order change; the run no longer retraces the original)");
    VerbBuilder.AtLeast(steps, 1);
    return (p, ctx, ct) => ctx.Get<TrainCommand>().ResumeAsync(new ResumeArgs(p.GetValue(run)!, p.GetValue(steps)) { Dist = p.GetValue(dist)!, ForceWorldSize = p.GetValue(force) }, ctx.Output, ct);
});

cli.Verb("probe", "Classify frozen features of a run's encoder (a linear or kNN probe) and report test accuracy.", v =>
{
    var run = v.Required<string>("--run", "the run folder", "DIR");
    var data = v.Optional<string>("--data", $"labelled data: {DataHelp} (default: the run's)", "SPEC");
    var method = v.Option("--method", "linear: logistic regression on frozen features; knn: k-nearest neighbours", "linear", null, "linear", "knn");
    var randomInit = v.Flag("--random-init", "probe a randomly initialised encoder of the same recipe instead (the baseline)");
    var sets = v.Repeated("--set", SetDataHelp + "; probe.batchnorm=false drops the BatchNorm before the linear head; probe.pool=mean+max pools the tokens' mean and max (point clouds)", "k=v");
    return (p, ctx, ct) => ctx.Get<EvaluateCommands>().ProbeAsync(
        new ProbeArgs(p.GetValue(run)!, p.GetValue(data), p.GetValue(method)!, p.GetValue(randomInit), p.GetValue(sets)), ctx.Output, ct);
});

cli.Verb("finetune", "Fine-tune a run's encoder with a classification head (or the same model from scratch); writes <run>/finetune-<name>/ and reports test accuracy at the best val epoch.", v =>
{
    var run = v.Optional<string>("--run", "the pretraining run folder (not with --resume)", "DIR");
    var data = v.Optional<string>("--data", $"labelled data: {DataHelp} (default: the run's)", "SPEC");
    var epochs = v.Optional<int?>("--epochs", "passes over the train split (default: finetune.epochs)", "N");
    var scratch = v.Flag("--from-scratch", "train the same architecture from random initialisation, same budget (the baseline)");
    var name = v.Optional<string>("--name", "folder name under the run: finetune-<name> (default: pretrained|scratch-<time>)", "NAME");
    var resume = v.Optional<string>("--resume", "continue an interrupted fine-tune from its last checkpoint, exactly", "FTDIR");
    var sets = v.Repeated("--set", "finetune.<name> (lr, layer_decay, drop_path, train_limit, ...: see the README), data.<name> or seed (repeatable)", "k=v");
    return (p, ctx, ct) => ctx.Get<FinetuneCommand>().RunAsync(new FinetuneRequest
    {
        Run = p.GetValue(run), Data = p.GetValue(data), Epochs = p.GetValue(epochs), FromScratch = p.GetValue(scratch), Name = p.GetValue(name),
        Resume = p.GetValue(resume), Set = p.GetValue(sets) ?? [],
    }, ctx.Output, ct);
});

cli.Verb("embed", "Write a run's encoder features of every sample to a Parquet file (source, label, split, embedding).", v =>
{
    var run = v.Required<string>("--run", "the run folder", "DIR");
    var data = v.Required<string>("--data", $"the data to embed: {DataHelp}", "SPEC");
    var outFile = v.Required<string>("--out", "the Parquet file to write", "FILE.parquet");
    var sets = v.Repeated("--set", SetDataHelp, "data.k=v");
    return (p, ctx, ct) => ctx.Get<EvaluateCommands>().EmbedAsync(
        new EmbedArgs(p.GetValue(run)!, p.GetValue(data)!, p.GetValue(outFile)!, p.GetValue(sets)), ctx.Output, ct);
});

cli.Verb("reconstruct", "Draw inputs, what the encoder saw and its reconstructions for the first samples of the data.", v =>
{
    var run = v.Required<string>("--run", "the run folder", "DIR");
    var data = v.Optional<string>("--data", $"the data: {DataHelp} (default: the run's test split)", "SPEC");
    var outFile = v.Required<string>("--out", "the PNG to write", "FILE.png");
    var count = v.Option("--count", "how many samples", 8, "K");
    var sets = v.Repeated("--set", SetDataHelp, "data.k=v");
    VerbBuilder.AtLeast(count, 1);
    return (p, ctx, ct) => ctx.Get<EvaluateCommands>().ReconstructAsync(
        new ReconstructArgs(p.GetValue(run)!, p.GetValue(outFile)!, p.GetValue(data), p.GetValue(count), p.GetValue(sets)), ctx.Output, ct);
});

cli.Verb("masks", "Draw what a recipe's masker hides on real samples (frames for time grids, slices for volumes).", v =>
{
    var recipe = v.Option("--recipe", "the recipe whose masker to draw (see `maskwork recipes`)", "image/mae", "R");
    var data = v.Optional<string>("--data", $"the data: {DataHelp} (default: the recipe's test split)", "SPEC");
    var count = v.Option("--count", "how many samples", 8, "K");
    var step = v.Option("--step", "the training step to draw the masks of (mask-ratio schedules)", 0L, "N");
    var outFile = v.Required<string>("--out", "the PNG to write", "FILE.png");
    var sets = v.Repeated("--set", "override an option: model.<name> (model.masker=noise, model.noise=green), data.<name>, train.steps, seed", "k=v");
    VerbBuilder.AtLeast(count, 1);
    return (p, ctx, ct) => ctx.Get<MasksCommand>().RunAsync(new MasksArgs(p.GetValue(recipe)!, p.GetValue(outFile)!, p.GetValue(data), p.GetValue(count), p.GetValue(sets), p.GetValue(step)), ctx.Output, ct);
});

cli.Verb("ingest", "Turn raw files into a Parquet dataset folder, read later with --data parquet:DIR.", v =>
{
    var reader = v.Required<string>("--reader", "the reader of the raw files (see `maskwork plugins`), e.g. image-folder", "NAME");
    var input = v.Required<string>("--in", "the raw files' folder or file", "PATH");
    var outDir = v.Required<string>("--out", "the dataset folder to write", "DIR");
    var sets = v.Repeated("--set", SetDataHelp, "data.k=v");
    return (p, ctx, ct) => ctx.Get<DataCommands>().IngestAsync(
        new IngestArgs(p.GetValue(reader)!, p.GetValue(input)!, p.GetValue(outDir)!, p.GetValue(sets)), ctx.Output, ct);
});

cli.Verb("inspect", "Show what a reader sees: counts, shapes, classes, splits, skipped files and why.", v =>
{
    var data = v.Required<string>("--data", DataHelp, "SPEC");
    var limit = v.Optional<int?>("--limit", "read at most N samples (default: all)", "N");
    var verify = v.Flag("--verify", "for a dataset folder (parquet:DIR): check the manifest and every shard's SHA-256; exit 1 if any fails");
    var sets = v.Repeated("--set", SetDataHelp, "data.k=v");
    VerbBuilder.AtLeast(limit, 1);
    return (p, ctx, ct) => ctx.Get<DataCommands>().InspectAsync(new InspectArgs(p.GetValue(data)!, p.GetValue(limit), p.GetValue(sets)) { Verify = p.GetValue(verify) }, ctx.Output, ct);
});

cli.Verb("runs", "List the runs under the runs root: recipe, data, state, steps, final loss, speed and evaluations.", v =>
{
    var root = v.Optional<string>("--root", "the folder to list (default: the RunsRoot setting, ./runs)", "DIR");
    return (p, ctx, _) => Task.FromResult(ctx.Get<RunsCommand>().List(new RunsArgs(p.GetValue(root)), ctx.Output));
});

cli.Verb("worker", "Serve the job queue: runs submitted pretraining jobs as child processes, resumes them after a crash or reboot; REST API, /metrics, health checks and a dashboard at /.", v =>
{
    var urls = v.Optional<string>("--urls", $"where to listen, e.g. http://0.0.0.0:8765 (default: the Maskwork:Worker:Url setting, {Maskwork.Host.Worker.WorkerOptions.DefaultUrl}); any address but loopback requires the bearer token", "URL");
    return (p, ctx, ct) => ctx.Get<WorkerCommand>().RunAsync(new WorkerArgs(p.GetValue(urls)), ct);
}, json: false);

var jobs = cli.Group("jobs", "Submit pretraining jobs to a running `maskwork worker` and watch them: submit, list, status, cancel, logs.");
const string ServerHelp = "the worker (default: the Maskwork:Worker:Url setting, http://127.0.0.1:8765)";

cli.Verb(jobs, "submit", "Queue a pretraining job: the pretrain options; prints the job's id.", v =>
{
    var recipe = v.Optional<string>("--recipe", "the recipe (default: the job file's, else image/mae)", "R");
    var data = v.Optional<string>("--data", $"training data: {DataHelp} (default: the recipe's); must lie inside the worker's data roots", "SPEC");
    var config = v.Optional<string>("--config", "a job file as `pretrain --config` reads it; flags and --set override it", "job.json");
    var steps = v.Optional<int?>("--steps", "stop after step N (default: the recipe's train.steps)", "N");
    var batch = v.Optional<int?>("--batch", "samples per step (default: the recipe's train.batch)", "B");
    var device = v.Optional<string>("--device", "cpu, cuda or auto (default: the job file's, else cpu)", null, "cpu", "cuda", "auto");
    var precision = v.Optional<string>("--precision", "fp32 or bf16 (default: the job file's, else fp32)", null, "fp32", "bf16");
    var seed = v.Optional<long?>("--seed", "seed of every random choice (default: the job file's, else 0)", "S");
    var sets = v.Repeated("--set", "override an option: train.<name>, model.<name>, data.<name>, seed, device or precision (repeatable)", "k=v");
    var name = v.Optional<string>("--name", "a short name for the job and its run folder (default: the recipe)", "NAME");
    var priority = v.Optional<int?>("--priority", "higher runs first (default 0)", "P");
    var ranks = v.Optional<int?>("--ranks", "data-parallel ranks: the worker runs the job under `mpirun -np N` (default 1; --batch is per rank)", "N");
    var server = v.Optional<string>("--server", ServerHelp, "URL");
    VerbBuilder.AtLeast(steps, 1);
    VerbBuilder.AtLeast(ranks, 1);
    VerbBuilder.AtLeast(batch, 1);
    return (p, ctx, ct) => ctx.Get<JobsCommands>().SubmitAsync(new SubmitArgs(new PretrainArgs
    {
        Recipe = p.GetValue(recipe), Data = p.GetValue(data), Config = p.GetValue(config), Steps = p.GetValue(steps), Batch = p.GetValue(batch),
        Device = p.GetValue(device), Precision = p.GetValue(precision), Seed = p.GetValue(seed), Sets = p.GetValue(sets) ?? [],
    })
    {
        Name = p.GetValue(name), Priority = p.GetValue(priority), Ranks = p.GetValue(ranks),
    }, p.GetValue(server), ctx.Output, ct);
});

cli.Verb(jobs, "list", "List the worker's jobs: state, progress, attempts and why one failed.", v =>
{
    var state = v.Optional<string>("--state", "only jobs in this state", null, "queued", "running", "succeeded", "failed", "cancelled");
    var server = v.Optional<string>("--server", ServerHelp, "URL");
    return (p, ctx, ct) => ctx.Get<JobsCommands>().ListAsync(p.GetValue(state), p.GetValue(server), ctx.Output, ct);
});

cli.Verb(jobs, "status", "Show one job: state, attempts, run folder, exit code and, once finished, its pretrain result.", v =>
{
    var id = v.Argument<long>("id", "the job's id");
    var server = v.Optional<string>("--server", ServerHelp, "URL");
    return (p, ctx, ct) => ctx.Get<JobsCommands>().StatusAsync(p.GetValue(id), p.GetValue(server), ctx.Output, ct);
});

cli.Verb(jobs, "cancel", "Cancel a job: a queued one at once; a running one writes a checkpoint first (SIGTERM, then SIGKILL after the grace period).", v =>
{
    var id = v.Argument<long>("id", "the job's id");
    var server = v.Optional<string>("--server", ServerHelp, "URL");
    return (p, ctx, ct) => ctx.Get<JobsCommands>().CancelAsync(p.GetValue(id), p.GetValue(server), ctx.Output, ct);
});

cli.Verb(jobs, "logs", "Print a job's log (its process's stderr: progress and messages); --follow until it ends.", v =>
{
    var id = v.Argument<long>("id", "the job's id");
    var follow = v.Flag("--follow", "keep printing as the log grows, until the job succeeds, fails or is cancelled");
    var stream = v.Option("--stream", "stderr (progress, messages) or stdout (the --json results)", "stderr", null, "stderr", "stdout");
    var server = v.Optional<string>("--server", ServerHelp, "URL");
    return (p, ctx, ct) => ctx.Get<JobsCommands>().LogsAsync(p.GetValue(id), p.GetValue(follow), p.GetValue(stream)!, p.GetValue(server), ctx.Output, ct);
});

cli.Verb("completion", "Print a shell completion script: source <(maskwork completion bash)", v =>
{
    var shell = v.Argument<string>("shell", "the shell: bash (the default)");
    return (p, _, _) => Task.FromResult(Completion.Print(p.GetValue(shell)));
}, json: false);

return await cli.RunAsync(args);

// An option's value only when the user gave it (not its help default).
static T? Given<T>(System.CommandLine.ParseResult parse, System.CommandLine.Option<T> option) where T : class =>
    parse.GetResult(option) is { Implicit: false } ? parse.GetValue(option) : default;
