# libFuzzer targets: every fuzz/fuzz_*.c defines LLVMFuzzerTestOneInput and
# is linked with all of common/ built by clang with ASan+UBSan+fuzzer
# (fuzz_askpass also with the helper's parsers; the frame parser is in common/).
O        := build-fuzz
CC       := clang
PKGS     := jansson yaml-0.1 libssl libcrypto nettle hogweed
CFLAGS   := -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined \
            -D_GNU_SOURCE -DK8S_VERSION=\"fuzz\" -DK8S_STOREDIR=\"/nonexistent\" -Icommon \
            $(shell pkg-config --cflags $(PKGS)) -Wall -Wextra -Werror -Wno-unused-parameter
LIBS     := $(shell pkg-config --libs $(PKGS)) -lgmp -ldl -lpthread -lpam
SRC      := $(wildcard common/*.c)
OBJ      := $(SRC:%.c=$(O)/%.o)
TARGETS  := $(patsubst fuzz/%.c,$(O)/%,$(wildcard fuzz/fuzz_*.c))

.SECONDARY:
all: $(TARGETS)

$(O)/%.o: %.c $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(O)/fuzz_%: fuzz/fuzz_%.c $(OBJ)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(O)/fuzz_askpass: $(O)/askpass/askpass_parse.o
$(O)/askpass/askpass_parse.o: askpass/askpass.h
