using Maskwork.Host.Cli;
using Maskwork.Host.Plugins;

namespace Maskwork.Host.Tests;

public class CliTests
{
    static readonly Dictionary<string, VerbSpec> Verbs = new()
    {
        ["pretrain"] = new("", "", ["recipe", "steps"], ["json"], ["set"], []),
        ["probe"] = new("", "", ["run"], ["json"], [], ["run"]),
    };

    [Fact]
    public void Parses_values_flags_and_repeatable_options()
    {
        var cl = CommandLine.Parse(["pretrain", "--recipe", "image/mae", "--steps=5", "--json", "--set", "a=1", "--set", "b.c=x=y"], Verbs);
        Assert.Equal("pretrain", cl.Verb);
        Assert.Equal("image/mae", cl.Value("recipe"));
        Assert.Equal(5, cl.Int("steps"));
        Assert.True(cl.Flag("json"));
        Assert.Equal(["a=1", "b.c=x=y"], cl.Values("set"));
    }

    [Theory]
    [InlineData("nope")]
    [InlineData("pretrain --bogus 1")]
    [InlineData("pretrain --recipe")]
    [InlineData("pretrain --recipe a --recipe b")]
    [InlineData("probe")]
    [InlineData("pretrain stray")]
    public void Usage_errors_are_reported(string line)
    {
        Assert.Throws<UsageException>(() => CommandLine.Parse(line.Split(' '), Verbs));
    }

    [Fact]
    public void Negative_or_non_numeric_integers_are_usage_errors()
    {
        Assert.Throws<UsageException>(() => CommandLine.Parse(["pretrain", "--steps", "-3"], Verbs).Int("steps"));
        Assert.Throws<UsageException>(() => CommandLine.Parse(["pretrain", "--steps", "ten"], Verbs).Int("steps"));
    }
}
