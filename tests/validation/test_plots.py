import matplotlib.image as mpimg

from dist_llm_train.validation.plots import plot_loss, write_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_every_plot_is_a_readable_png(tmp_path, baseline, experimental):
    plots = write_plots(tmp_path, baseline, experimental, target_loss=3.06)
    assert set(plots) == {"loss_vs_samples", "loss_vs_virtual_time", "loss_vs_bytes", "staleness", "acceptance"}
    for path in plots.values():
        assert path.read_bytes()[:8] == PNG_MAGIC
        img = mpimg.imread(path)
        assert img.shape[0] > 200 and img.shape[1] > 300


def test_loss_plot_draws_both_runs(tmp_path, baseline, experimental):
    # a chart with both curves has more non-background pixels than one with the experimental curve alone
    both = mpimg.imread(plot_loss(baseline, experimental, "virtual_time", tmp_path / "both.png"))
    experimental.curve = experimental.curve[:1]
    one = mpimg.imread(plot_loss(baseline, experimental, "virtual_time", tmp_path / "one.png"))
    assert (both[..., :3] < 0.9).sum() > (one[..., :3] < 0.9).sum()
