"""conv: the notes' convolutional autoencoder, 28x28x1 -> 7x7x256 bottleneck -> 28x28x1 at width 1.0.

The width multiplier scales the hidden layers' filters (64 and 128 at 1.0); the bottleneck's
filter count is a setting of its own (latent_dim), so the code a page names is the code it builds.

Other image shapes (8 to 128 pixels a side, grey or colour) keep the layer pattern: the
input is zero-padded to multiples of 4, so both 2x2 poolings divide, and the output is
cropped back to the input's shape.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aecore.datasets.catalogue import MNIST_SHAPE
from aecore.models.spec import (
    BATCH_SIZE, BCE_QUALITY, EPOCHS, IMAGES, LATENT_DIM, LEARNING_RATE, NOISE, SCHEDULE, SEED, TRAIN_SIZE, ArchSpec,
    RECOGNISABLE, Field, LayerSeeds, ScriptParts, compile_with_adam, conv_parameters, padded, padding_to_multiple,
    quarter_grid,
)

if TYPE_CHECKING:
    import keras


def filters(count: int, width: float) -> int:
    """A layer's filter count at this width multiplier (1.0 is the notes' network)."""
    return max(1, round(count * width))


def build_conv(width: float = 1.0, bottleneck_filters: int = 256, seed: int = 0,
               image_shape: tuple[int, ...] = MNIST_SHAPE, out_kernel: int = 3) -> keras.Model:
    """Conv64+pool, Conv128+pool, a bottleneck of bottleneck_filters at (H/4)x(W/4), then mirrored; width scales
    the hidden layers' filter counts (1.0: 64 and 128, the notes' with 256 bottleneck filters); out_kernel is the
    side of the last layer's kernel (3 as built; 1: each output pixel sees only its own features)."""
    import keras  # deferred: the registry is read before Keras is needed
    from keras import layers

    seeds = LayerSeeds(seed)

    def conv(count, name):
        return layers.Conv2D(count, 3, padding="same", activation="relu",
                             kernel_initializer=seeds.glorot(), name=name)

    pad = padding_to_multiple(image_shape, 4)
    # Padding and cropping layers only where the shape needs them: they hold no weights, so the seeds
    # of the layers after them are the same, and a 28x28 model is the notes' network layer for layer.
    needs_padding = any(pad[0] + pad[1])

    inputs = keras.Input(image_shape, name="x")
    h = layers.ZeroPadding2D(pad, name="pad")(inputs) if needs_padding else inputs
    # Named by place, not by filter count: the count depends on the width.
    first, second = filters(64, width), filters(128, width)
    h = conv(first, "enc_conv1")(h)
    h = layers.MaxPooling2D(2, name="enc_pool1")(h)
    h = conv(second, "enc_conv2")(h)
    h = layers.MaxPooling2D(2, name="enc_pool2")(h)
    code = conv(bottleneck_filters, "bottleneck")(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input((*quarter_grid(image_shape), bottleneck_filters), name="z")
    h = conv(second, "dec_conv2")(code_in)
    h = layers.UpSampling2D(2, name="dec_up1")(h)
    h = conv(first, "dec_conv1")(h)
    h = layers.UpSampling2D(2, name="dec_up2")(h)
    outputs = layers.Conv2D(image_shape[2], out_kernel, padding="same", activation="sigmoid",
                            kernel_initializer=seeds.glorot(), name="reconstruction")(h)
    if needs_padding:
        outputs = layers.Cropping2D(pad, name="crop")(outputs)
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="conv")


def _build(config, input_shape):
    model = build_conv(config.width, config.latent_dim, config.seed, tuple(input_shape), config.out_kernel)
    return compile_with_adam(model, config, "binary_crossentropy")


def _filter_counts(config) -> tuple[int, int, int]:
    return filters(64, config.width), filters(128, config.width), config.latent_dim


def _parameters(config, input_shape) -> int:
    f64, f128, code = _filter_counts(config)
    channels = input_shape[2]
    chain = (channels, f64, f128, code, f128, f64, channels)  # build_conv's convolutions, in order
    kernels = (3, 3, 3, 3, 3, config.out_kernel)
    return sum(conv_parameters(c_in, c_out, k) for c_in, c_out, k in zip(chain, chain[1:], kernels))


def _activations(config, input_shape) -> int:
    f64, f128, code = _filter_counts(config)
    height, width, channels = *padded(input_shape, 4), input_shape[2]
    full, half, quarter = height * width, height * width // 4, height * width // 16
    needs_padding = (height, width) != tuple(input_shape[:2])
    values = (full * f64 + half * f64 + half * f128 + quarter * f128  # encoder: conv, pool, conv, pool
              + quarter * code  # bottleneck
              + quarter * f128 + half * f128 + half * f64 + full * f64 + full * channels)  # decoder: conv, up, ...
    return values + (full * channels + math.prod(input_shape) if needs_padding else 0)  # the pad and the crop


def _bottleneck(config, input_shape) -> tuple[str, int]:
    rows, cols = quarter_grid(input_shape)
    return f"{rows}x{cols}x{config.latent_dim}", rows * cols * config.latent_dim


# Its part of a run's standalone Keras script (aecore.script): build_conv's layers, names and seeds.
_SCRIPT = """\
IMAGE_SHAPE = {image_shape}  # height, width, channels
FILTERS = {filters}  # the hidden convolutions': 64 and 128 times the width {width:g}
LATENT_DIM = {latent_dim}  # the bottleneck's filters, at {rows} x {cols}
{kernel_constant}{pad_constant}LOSS = "binary_crossentropy"


def conv(filters, name, seeds):
    \"\"\"A 3 x 3 same-padded ReLU convolution.\"\"\"
    return layers.Conv2D(filters, 3, padding="same", activation="relu", kernel_initializer=seeds.glorot(), name=name)


def build_model():
    \"\"\"Conv + pool twice down to a quarter of each side, a bottleneck convolution, then mirrored back up.\"\"\"
    seeds = LayerSeeds(SEED)  # drawn in layer order
    first, second = FILTERS
    inputs = keras.Input(IMAGE_SHAPE, name="x")
{pad}    h = conv(first, "enc_conv1", seeds)({padded})
    h = layers.MaxPooling2D(2, name="enc_pool1")(h)
    h = conv(second, "enc_conv2", seeds)(h)
    h = layers.MaxPooling2D(2, name="enc_pool2")(h)
    code = conv(LATENT_DIM, "bottleneck", seeds)(h)
    encoder = keras.Model(inputs, code, name="encoder")

    code_in = keras.Input(({rows}, {cols}, LATENT_DIM), name="z")
    h = conv(second, "dec_conv2", seeds)(code_in)
    h = layers.UpSampling2D(2, name="dec_up1")(h)
    h = conv(first, "dec_conv1", seeds)(h)
    h = layers.UpSampling2D(2, name="dec_up2")(h)
    h = layers.Conv2D(IMAGE_SHAPE[2], {kernel}, padding="same", activation="sigmoid", kernel_initializer=seeds.glorot(),
                      name="reconstruction")(h)
    outputs = {crop}
    decoder = keras.Model(code_in, outputs, name="decoder")
    return keras.Model(inputs, decoder(encoder(inputs)), name="conv")
"""


def _script(config, input_shape) -> ScriptParts:
    pad = padding_to_multiple(input_shape, 4)
    needs_padding = any(pad[0] + pad[1])
    rows, cols = quarter_grid(input_shape)
    return ScriptParts(_SCRIPT.format(
        image_shape=tuple(input_shape), filters=_filter_counts(config)[:2], width=config.width,
        latent_dim=config.latent_dim, rows=rows, cols=cols,
        # At the default the script is the one every run had before the field existed.
        kernel_constant=(f"OUT_KERNEL = {config.out_kernel}  # the last layer's kernel side: 1, a 1x1 convolution\n"
                         if config.out_kernel != 3 else ""),
        kernel="OUT_KERNEL" if config.out_kernel != 3 else "3",
        pad_constant=f"PAD = {pad}  # zero rows and columns that make both sides multiples of 4\n" * needs_padding,
        pad='    h = layers.ZeroPadding2D(PAD, name="pad")(inputs)\n' if needs_padding else "",
        padded="h" if needs_padding else "inputs",
        crop='layers.Cropping2D(PAD, name="crop")(h)  # back to the input\'s shape' if needs_padding else "h"))


# Chosen on the time-quality frontier of benchmarks/tune.py (docs/PERFORMANCE.md, "Time to quality"): small batches
# learn more per image here, and 2 x 2,048 images trains too few to pay for XLA's compile. Width 0.5 and 128
# bottleneck filters: the notes' network at half its filter counts.
DEFAULTS = dict(dataset="mnist-sample", epochs=2, batch_size=16, latent_dim=128, lr=1e-3, width=0.5, train_size=2048)
_FIRST, _SECOND = filters(64, DEFAULTS["width"]), filters(128, DEFAULTS["width"])

SPEC = ArchSpec(
    name="conv",
    title="Convolutional",
    description=f"Conv+pool, Conv+pool, a 7x7 bottleneck of k filters, mirrored decoder, BCE. The notes' network is "
                f"width 1.0 (Conv64, Conv128) with 256 bottleneck filters; this page starts at half: width "
                f"{DEFAULTS['width']:g} (Conv{_FIRST}, Conv{_SECOND}) and {DEFAULTS['latent_dim']} filters",
    summary="Conv + pooling down to a 7×7 feature map (a quarter of any image's sides), upsampling back up; "
            "BCE per pixel.",
    icon=":material/grid_on:",
    colour="#059669",
    order=3,
    input_kind=IMAGES,
    build=_build,
    loss=lambda config: "bce",
    defaults=DEFAULTS,
    fields=(
        EPOCHS, BATCH_SIZE, LEARNING_RATE, SCHEDULE,
        LATENT_DIM.with_label("Bottleneck filters (7 x 7 x filters on 28 x 28)"),
        Field("width", "Width (filter multiplier)", "choice", choices=(0.125, 0.25, 0.5, 0.75, 1.0), slider=True,
              help="scales the hidden layers' filter counts; 1.0 is the notes' Conv64 and Conv128"),
        TRAIN_SIZE, SEED, NOISE,
        Field("out_kernel", "Last layer's kernel", "choice", choices=(3, 1),
              help="the side of the decoder's last convolution: 3 lets each output pixel blend its neighbours' "
                   "features; 1 (a 1x1 convolution, 9 times fewer weights there) sees only its own"),
    ),
    quality=BCE_QUALITY,
    bottleneck=_bottleneck,
    code_words="{k} bottleneck filters",
    revision=1,  # 1: latent_dim is the bottleneck's filter count as built, no longer scaled by the width
    diagram=f"28×28×1 → 14×14×{_FIRST} → 7×7×{_SECOND} → 7×7×{DEFAULTS['latent_dim']} → 28×28×1",
    # No XLA: its steps are no quicker than TensorFlow's own kernels here, at any batch or length
    # (python -m benchmarks --time-to-quality, XLA's break-even); a conv step is long enough to need no more
    # than one step per call.
    jit_compile=False,
    steps_per_execution=1,
    # AMX's bfloat16 matrix units: mixed bfloat16 trains the default and the notes' width faster at the same test
    # BCE there (its output layer in bfloat16 too: no worse, and quicker); with AVX-512 BF16 alone it bought
    # less than its cost in BCE (docs/PERFORMANCE.md, "Precision and XLA by CPU").
    bfloat16_on=("amx_bf16",),
    tiny=dict(epochs=1, train_size=256, width=0.25, latent_dim=64),
    uploads="images",
    header_metrics=(RECOGNISABLE,),
    showcase=dict(epochs=6, train_size=0),
    notes_overrides=dict(width=1.0, latent_dim=256),
    parameters=_parameters,
    activations=_activations,
    script=_script,
)
