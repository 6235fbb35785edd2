using System.Text.Json;

namespace Maskwork.Distributed.Tests;

/// <summary>
/// The Libtorch setting (bring your own libtorch, DESIGN.md section 7), with the packaged CPU libtorch copied
/// to another folder as the stand-in for a PyTorch install's torch/lib: its files are the ones mapped, training
/// runs on them, and a version the shim was not built for is refused with the rebuild advice.
/// </summary>
public sealed class LibtorchPreloadTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-libtorch-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    static bool IsLibtorch(string name) =>
        name != "libLibTorchSharp.so" && (name.StartsWith("libtorch", StringComparison.Ordinal) || name.StartsWith("libc10", StringComparison.Ordinal) || name.StartsWith("libgomp", StringComparison.Ordinal));

    /// <summary>A libtorch folder laid out as an unpacked libtorch: lib/ with the shared libraries (copies, not links), build-version above it.</summary>
    string StandIn(string version)
    {
        string lib = Path.Combine(dir, "libtorch", "lib");
        Directory.CreateDirectory(lib);
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" }.Concat(Directory.GetFiles(Mpi.HostFolder, "libgomp*").Select(Path.GetFileName)))
            if (!File.Exists(Path.Combine(lib, name!))) File.Copy(Path.Combine(Mpi.HostFolder, name!), Path.Combine(lib, name!));
        File.WriteAllText(Path.Combine(dir, "libtorch", "build-version"), version + "\n");
        return lib;
    }

    /// <summary>The host folder as the GPU archive carries it: everything but libtorch (files copied, folders linked).</summary>
    string HostWithoutLibtorch()
    {
        string target = Path.Combine(dir, "host");
        if (Directory.Exists(target)) return target;
        Directory.CreateDirectory(target);
        foreach (var entry in Directory.EnumerateFileSystemEntries(Mpi.HostFolder))
        {
            string name = Path.GetFileName(entry), to = Path.Combine(target, name);
            if (Directory.Exists(entry)) Directory.CreateSymbolicLink(to, entry);
            else if (!IsLibtorch(name)) File.Copy(entry, to);
        }
        return target;
    }

    static Mpi.Result Maskwork(string host, string libtorch, params string[] args) =>
        Mpi.Run(false, 1, args, new Dictionary<string, string> { ["MASKWORK__LIBTORCH"] = libtorch }, host);

    [Fact]
    public void A_copied_libtorch_is_the_one_loaded_and_trains()
    {
        string lib = StandIn("2.10.0+cpu");
        // The host folder as the GPU archive carries it, without a libtorch of its own (one that still holds the packaged
        // libtorch is refused: see the next test).
        foreach (var host in new[] { HostWithoutLibtorch() })
        {
            var doctor = Maskwork(host, lib, "doctor", "--json");
            var j = doctor.Json();
            Assert.True(j.GetProperty("native_ok").GetBoolean(), doctor.ToString());
            Assert.Equal("2.10.0+cpu", j.GetProperty("libtorch_version").GetString());
            var files = j.GetProperty("libtorch_files").EnumerateArray().Select(e => e.GetString()!).ToList();
            foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libtorch.so" })
                Assert.Equal(Path.Combine(lib, name), Assert.Single(files, f => Path.GetFileName(f) == name)); // one copy, the stand-in's
            Assert.DoesNotContain(files, f => IsLibtorch(Path.GetFileName(f)) && !f.StartsWith(lib, StringComparison.Ordinal));
            Assert.Contains(files, f => Path.GetFileName(f) == "libLibTorchSharp.so");
            Assert.False(j.GetProperty("cuda_available").GetBoolean());
        }
        var run = Maskwork(HostWithoutLibtorch(), lib, "pretrain", "--steps", "2", "--batch", "8", "--json", "--out", Path.Combine(dir, "run"), "--data", SmallData.FashionMnist(Path.Combine(dir, "data"), 64),
            "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
            "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2").Ok();
        Assert.True(double.IsFinite(run.Json().GetProperty("final_loss").GetDouble()));
    }

    [Fact]
    public void A_build_that_carries_the_packaged_libtorch_refuses_the_setting_instead_of_loading_two()
    {
        // TorchSharp's probe for torch_cpu would map the packaged copy beside the app as well, and libtorch aborts on the second registration.
        string lib = StandIn("2.10.0+cpu");
        var doctor = Maskwork(Mpi.HostFolder, lib, "doctor", "--json");
        Assert.Equal(1, doctor.ExitCode);
        Assert.False(doctor.Json().GetProperty("native_ok").GetBoolean());
        Assert.Contains("needs a maskwork build without the packaged libtorch", doctor.Json().GetProperty("native_detail").GetString());
        var run = Maskwork(Mpi.HostFolder, lib, "pretrain", "--steps", "1", "--out", Path.Combine(dir, "two-copies"));
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("build/gpu-check.sh pack", run.Stderr);
        Assert.DoesNotContain("multiple backend fallbacks", run.Stderr);
    }

    [Fact]
    public void A_libtorch_of_another_version_is_refused_with_the_rebuild_advice()
    {
        string lib = StandIn("2.11.0+cu130");
        var doctor = Maskwork(HostWithoutLibtorch(), lib, "doctor", "--json");
        Assert.Equal(1, doctor.ExitCode);
        string detail = doctor.Json().GetProperty("native_detail").GetString()!;
        Assert.Contains("2.11.0+cu130", detail);
        Assert.Contains("build/build-libtorchsharp.sh", detail);
        var cuda = Maskwork(HostWithoutLibtorch(), lib, "pretrain", "--steps", "1", "--device", "cuda", "--out", Path.Combine(dir, "refused"));
        Assert.Equal(1, cuda.ExitCode);
        Assert.Contains("build/build-libtorchsharp.sh", cuda.Stderr);
    }

    [Fact]
    public void Cuda_without_cuda_exits_1_saying_what_to_install_and_auto_falls_back()
    {
        string[] tiny = ["--steps", "1", "--batch", "8", "--data", SmallData.FashionMnist(Path.Combine(dir, "data"), 64), "--set", "model.encoder_dim=32", "--set", "model.encoder_depth=1", "--set", "model.encoder_heads=2",
            "--set", "model.decoder_dim=16", "--set", "model.decoder_depth=1", "--set", "model.decoder_heads=2"];
        var cuda = Mpi.Single(["pretrain", .. tiny, "--device", "cuda", "--out", Path.Combine(dir, "cuda")]);
        Assert.Equal(1, cuda.ExitCode);
        Assert.Contains("Libtorch setting", cuda.Stderr);
        var auto = Mpi.Single(["pretrain", .. tiny, "--device", "auto", "--json", "--out", Path.Combine(dir, "auto")]).Ok();
        Assert.Equal("cpu", auto.Json().GetProperty("device").GetString());
        Assert.Contains("--device auto: no usable CUDA device", auto.Stderr);
    }
}
